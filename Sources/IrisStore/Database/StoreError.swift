/// What the store refuses or cannot do, in the user's words and without HTTP: the server maps
/// each case to a status in one place (`ErrorMapping.swift` in IrisServer), and the
/// command line prints the description.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A row the caller named does not exist ("no project has id 7").
    case notFound(String)
    /// The change contradicts what is stored: a taken name, a job in the wrong state.
    case conflict(String, field: String? = nil)
    /// The caller changed something from a version that is no longer the current one (a
    /// stale `If-Match`): nothing was written.
    case stale(String)
    /// The database answered what it never should (a row that vanished inside a transaction,
    /// an unknown enum value): worth retrying, and worth a look in the log.
    case inconsistent(String)
    /// A database URL that cannot be used, naming the setting.
    case badLocation(String)

    public var description: String {
        switch self {
        case .notFound(let detail), .conflict(let detail, _), .stale(let detail), .inconsistent(let detail),
            .badLocation(let detail):
            detail
        }
    }

}
