/// A failure a client caused or can act on, carried to the HTTP edge as an
/// RFC 9457 `application/problem+json` body.
///
/// Pure domain code throws `Problem`; the server maps `status` onto the response and
/// everything else into the JSON body. `slug` is a stable machine-readable name
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

    public static func notFound(_ detail: String) -> Problem {
        Problem(status: 404, slug: "not-found", title: "Not found", detail: detail)
    }

    public static func conflict(_ detail: String, field: String? = nil) -> Problem {
        Problem(status: 409, slug: "conflict", title: "Conflict", detail: detail, field: field)
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

    public static func unavailable(_ detail: String) -> Problem {
        Problem(status: 503, slug: "unavailable", title: "Service unavailable", detail: detail)
    }
}
