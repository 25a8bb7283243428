/// A failure a client caused or can act on, carried to the HTTP edge as an
/// RFC 9457 `application/problem+json` body.
///
/// Only the server builds one: its own checks throw `Problem`, and `ErrorMapping` makes one
/// from the typed errors of the layers below (`Refusal`, `StoreError`). `ProblemMiddleware`
/// maps `status` onto the response and everything else into the JSON body. `slug` is a stable machine-readable name
/// (the last path segment of the problem `type` URI).
public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var slug: String
    public var title: String
    public var detail: String
    /// The request field, part, parameter or header at fault, when there is one.
    public var field: String?
    /// Extra headers the response should carry (for example `Retry-After`).
    public var headers: [String: String]

    public init(
        status: Int, slug: String, title: String, detail: String, field: String? = nil, headers: [String: String] = [:]
    ) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.field = field
        self.headers = headers
    }

    public var description: String { "\(status) \(slug): \(detail)" }

    public static func badRequest(_ detail: String, field: String? = nil) -> Problem {
        Problem(status: 400, slug: "invalid-request", title: "The request is not valid", detail: detail, field: field)
    }

    /// 401: the caller is not known. `challenge` adds `WWW-Authenticate: Bearer` (for the
    /// credentials of a request, not for an upload link's code).
    public static func unauthorized(_ detail: String, field: String, challenge: Bool = false) -> Problem {
        Problem(
            status: 401, slug: "unauthorized", title: "Unauthorized", detail: detail, field: field,
            headers: challenge ? ["WWW-Authenticate": "Bearer"] : [:])
    }

    /// 403: the caller is known and may not do this. `slug` names why (`csrf`, `link-refused`).
    public static func forbidden(_ detail: String, slug: String = "forbidden", field: String? = nil) -> Problem {
        Problem(status: 403, slug: slug, title: "Forbidden", detail: detail, field: field)
    }

    public static func notFound(_ detail: String) -> Problem {
        Problem(status: 404, slug: "not-found", title: "Not found", detail: detail)
    }

    public static func conflict(_ detail: String, field: String? = nil) -> Problem {
        Problem(status: 409, slug: "conflict", title: "Conflict", detail: detail, field: field)
    }

    /// 412: an `If-Match` naming a version that is no longer the current one.
    public static func preconditionFailed(_ detail: String) -> Problem {
        Problem(
            status: 412, slug: "stale-version", title: "Precondition failed", detail: detail, field: "If-Match")
    }

    public static func contentTooLarge(_ detail: String, field: String? = nil) -> Problem {
        Problem(
            status: 413, slug: "content-too-large", title: "The request content is too large", detail: detail,
            field: field)
    }

    public static func unsupportedMediaType(_ detail: String, field: String? = nil) -> Problem {
        Problem(
            status: 415, slug: "unsupported-media-type", title: "Unsupported media type", detail: detail, field: field)
    }

    public static func unprocessable(_ slug: String, _ detail: String, field: String? = nil) -> Problem {
        Problem(status: 422, slug: slug, title: "The content cannot be processed", detail: detail, field: field)
    }

    /// A byte range outside a `size`-byte file; carries `Content-Range: bytes */size` as RFC 9110 asks.
    public static func rangeNotSatisfiable(_ detail: String, size: Int64) -> Problem {
        Problem(
            status: 416, slug: "range-not-satisfiable", title: "Range not satisfiable", detail: detail, field: "Range",
            headers: ["Content-Range": "bytes */\(size)"])
    }

    /// 429 with `Retry-After`.
    public static func tooManyRequests(_ detail: String, retryAfter seconds: Int) -> Problem {
        Problem(
            status: 429, slug: "too-many-requests", title: "Too many requests", detail: detail,
            headers: ["Retry-After": String(seconds)])
    }

    /// 503 for an instance in read-only mode, with `Retry-After` in an hour.
    public static func readOnly(_ detail: String) -> Problem {
        Problem(
            status: 503, slug: "read-only", title: "Read-only mode", detail: detail, headers: ["Retry-After": "3600"])
    }

    public static func unavailable(_ detail: String) -> Problem {
        Problem(status: 503, slug: "unavailable", title: "Service unavailable", detail: detail)
    }
}
