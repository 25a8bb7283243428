public import Foundation
import IrisCore

/// Where the database is, parsed from `db.url`.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    /// `sqlite:///absolute/path.sqlite` (or `sqlite://relative/path`).
    case sqlite(path: String)
    /// `postgres://user[:password]@host[:port]/database`, kept whole for PostgresKit to parse.
    case postgres(url: String)

    public init(url: String) throws {
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw StoreError.badLocation("db.url \(url) names no file") }
            self = .sqlite(path: path)
        } else if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            self = .postgres(url: url)
        } else {
            throw StoreError.badLocation("db.url must start with sqlite:// or postgres://, not \(url)")
        }
    }

    /// The default: a SQLite file in the data folder.
    public static func `default`(dataDirectory: URL) -> DatabaseLocation {
        .sqlite(path: dataDirectory.appendingPathComponent("iris.sqlite").path)
    }

    /// The URL with any password masked, for logs.
    public var description: String {
        switch self {
        case .sqlite(let path): return "sqlite://\(path)"
        case .postgres(let url):
            guard var components = URLComponents(string: url) else { return "postgres://…" }
            if components.password != nil { components.password = "***" }
            return components.string ?? "postgres://…"
        }
    }
}
