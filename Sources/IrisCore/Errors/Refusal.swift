/// Iris declining to do what it was asked, for a reason the asker caused or can act on.
///
/// The layers below the server throw a `Refusal`; they know why they refuse, not how a
/// protocol reports it. The server turns `kind` into an HTTP status and problem+json body
/// (`ErrorMapping`), and the command line prints `detail`. `detail` is in the user's words and
/// names nothing of the server's (no paths, no other request's message).
public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The input breaks a rule: a malformed value, a name too long, a field out of range.
        case invalid
        /// What was named does not exist (or the caller may not know it does).
        case notFound
        /// The input is well formed but clashes with what exists (a taken name, a busy state).
        case conflict
        /// The input is over a size limit.
        case tooLarge
        /// The input is in a format Iris does not take.
        case unsupportedFormat
        /// The input is in a format Iris takes but cannot be used (damaged, empty, unusable).
        case unprocessable
        /// Something Iris needs is not ready (a model not prepared, a dependency down).
        case unavailable
        /// The asker has done this too often lately; `retryAfter` says when they may again.
        case tooManyRequests
        /// The asker's authority does not stretch to this (a contributor link used up or revoked).
        case forbidden
    }

    public var kind: Kind
    /// A stable machine-readable name for the reason, e.g. `corrupt-image`.
    public var reason: String
    public var detail: String
    /// The input field, part or parameter at fault, when there is one.
    public var field: String?
    /// Seconds until the asker may try again (`tooManyRequests`).
    public var retryAfter: Int?

    public init(_ kind: Kind, reason: String, detail: String, field: String? = nil) {
        self.kind = kind
        self.reason = reason
        self.detail = detail
        self.field = field
    }

    public var description: String { "\(kind.rawValue) \(reason): \(detail)" }

    public static func invalid(_ detail: String, field: String? = nil) -> Refusal {
        Refusal(.invalid, reason: "invalid-request", detail: detail, field: field)
    }

    public static func notFound(_ detail: String) -> Refusal {
        Refusal(.notFound, reason: "not-found", detail: detail)
    }

    public static func conflict(_ detail: String, field: String? = nil) -> Refusal {
        Refusal(.conflict, reason: "conflict", detail: detail, field: field)
    }

    public static func tooLarge(_ detail: String, reason: String = "content-too-large", field: String? = nil)
        -> Refusal
    {
        Refusal(.tooLarge, reason: reason, detail: detail, field: field)
    }

    public static func unsupportedFormat(_ detail: String, field: String? = nil) -> Refusal {
        Refusal(.unsupportedFormat, reason: "unsupported-media-type", detail: detail, field: field)
    }

    public static func unprocessable(_ reason: String, _ detail: String, field: String? = nil) -> Refusal {
        Refusal(.unprocessable, reason: reason, detail: detail, field: field)
    }

    public static func unavailable(_ detail: String) -> Refusal {
        Refusal(.unavailable, reason: "unavailable", detail: detail)
    }

    public static func forbidden(_ detail: String, reason: String = "forbidden", field: String? = nil) -> Refusal {
        Refusal(.forbidden, reason: reason, detail: detail, field: field)
    }

    public static func tooManyRequests(_ detail: String, retryAfter seconds: Int) -> Refusal {
        var refusal = Refusal(.tooManyRequests, reason: "too-many-requests", detail: detail)
        refusal.retryAfter = seconds
        return refusal
    }
}
