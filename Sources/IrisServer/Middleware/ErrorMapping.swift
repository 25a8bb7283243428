import IrisBlobs
import IrisCore
import IrisStore

/// The one place where errors of the layers below become what a caller sees. Layers below the
/// server throw their own typed errors (`Refusal`, the store's
/// `StoreError`); the server's own code throws `Problem`, which passes through.
enum ErrorMapping {
    /// The problem for `error`, or nil when it is not one a caller may see (a 500 then).
    static func problem(_ error: any Error) -> Problem? {
        switch error {
        case let problem as Problem: problem
        case let refusal as Refusal: problem(refusal)
        case let error as StoreError: problem(error)
        case is BlobStoreUnavailable: storageUnavailable
        default: nil
        }
    }

    static func problem(_ refusal: Refusal) -> Problem {
        if refusal.kind == .tooManyRequests {
            return Problem.tooManyRequests(refusal.detail, retryAfter: refusal.retryAfter ?? 60)
        }
        let (status, title): (Int, String) =
            switch refusal.kind {
            case .invalid: (400, "The request is not valid")
            case .notFound: (404, "Not found")
            case .conflict: (409, "Conflict")
            case .tooLarge:
                (413, refusal.reason == "zip-bomb" ? "The archive is too large" : "The request content is too large")
            case .unsupportedFormat: (415, "Unsupported media type")
            case .unprocessable: (422, "The content cannot be processed")
            case .unavailable: (503, "Service unavailable")
            case .tooManyRequests: (429, "Too many requests")
            case .forbidden: (403, "Forbidden")
            }
        return Problem(status: status, slug: refusal.reason, title: title, detail: refusal.detail, field: refusal.field)
    }

    /// What a caller hears when the blob store (S3) cannot be reached: not where it is or why
    /// (that goes to the log).
    static let storageUnavailable = Problem(
        status: 503, slug: "storage-unavailable", title: "Service unavailable",
        detail: "the photo storage is not available at the moment; nothing was changed, try again shortly")

    static func problem(_ error: StoreError) -> Problem {
        switch error {
        case .notFound(let detail): Problem.notFound(detail)
        case .conflict(let detail, let field): Problem.conflict(detail, field: field)
        case .stale(let detail): Problem.preconditionFailed(detail)
        case .inconsistent(let detail): Problem.unavailable(detail)
        case .badLocation(let detail): Problem.badRequest(detail, field: "db.url")
        }
    }
}
