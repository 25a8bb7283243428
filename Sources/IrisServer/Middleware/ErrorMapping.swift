import IrisCore
import IrisStore

/// The one place where errors of the layers below become what a caller sees. Layers below the
/// server throw their own typed errors (the store's `StoreError`); services still throw
/// `Problem` directly, which passes through.
enum ErrorMapping {
    /// The problem for `error`, or nil when it is not one a caller may see (a 500 then).
    static func problem(_ error: any Error) -> Problem? {
        switch error {
        case let problem as Problem: problem
        case let error as StoreError: problem(error)
        default: nil
        }
    }

    static func problem(_ error: StoreError) -> Problem {
        switch error {
        case .notFound(let detail): Problem.notFound(detail)
        case .conflict(let detail, let field): Problem.conflict(detail, field: field)
        case .inconsistent(let detail): Problem.unavailable(detail)
        case .badLocation(let detail): Problem.badRequest(detail, field: "db.url")
        }
    }
}
