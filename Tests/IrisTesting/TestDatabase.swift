public import Foundation
import IrisCore
public import IrisStore
public import Logging
import SQLKit

/// The databases every database-touching test runs against. PostgreSQL joins when
/// `IRIS_TEST_POSTGRES_URL` names a server (`make test` starts one on loopback);
/// with `IRIS_TEST_REQUIRE_POSTGRES=1` its absence fails the tests instead of skipping it.
public enum TestDatabase: String, Sendable, CustomStringConvertible, CaseIterable {
    case sqlite, postgres

    public var description: String { rawValue }

    public static var enabled: [TestDatabase] {
        let environment = ProcessInfo.processInfo.environment
        let hasPostgres = !(environment["IRIS_TEST_POSTGRES_URL"] ?? "").isEmpty
        let required = environment["IRIS_TEST_REQUIRE_POSTGRES"] == "1"
        return hasPostgres || required ? [.sqlite, .postgres] : [.sqlite]
    }

    public static let logger: Logger = {
        var logger = Logger(label: "iris-test")
        logger.logLevel = .warning
        return logger
    }()

    /// A fresh, empty database of this kind (a new SQLite file, or a new PostgreSQL
    /// database on the test server), dropped again after `body`.
    public func withFreshDatabase<T>(in folder: URL, _ body: (DatabaseLocation) async throws -> T) async throws -> T {
        switch self {
        case .sqlite:
            return try await body(.sqlite(path: folder.appendingPathComponent("test.sqlite").path))
        case .postgres:
            guard let adminURL = ProcessInfo.processInfo.environment["IRIS_TEST_POSTGRES_URL"], !adminURL.isEmpty else {
                throw Refusal.unavailable(
                    "IRIS_TEST_POSTGRES_URL is not set; run the suite with `make test`, which starts PostgreSQL")
            }
            let name = "iris_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
            let admin = try IrisDatabase(location: .postgres(url: adminURL), poolSize: 1, logger: Self.logger)
            do {
                try await admin.withConnection { db in try await db.raw("CREATE DATABASE \(unsafeRaw: name)").run() }
            } catch {
                await admin.shutdown()
                throw error
            }
            var components = URLComponents(string: adminURL)!
            components.path = "/" + name
            do {
                let result = try await body(.postgres(url: components.string!))
                try? await admin.withConnection { db in
                    try await db.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run()
                }
                await admin.shutdown()
                return result
            } catch {
                try? await admin.withConnection { db in
                    try await db.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run()
                }
                await admin.shutdown()
                throw error
            }
        }
    }

    /// A migrated store on a fresh database, closed after `body`.
    public func withStore<T>(_ body: (IrisStore) async throws -> T) async throws -> T {
        try await TemporaryFolder.with { folder in
            try await withFreshDatabase(in: folder) { location in
                let store = try await IrisStore.open(location, poolSize: 2, logger: Self.logger)
                do {
                    let result = try await body(store)
                    await store.database.shutdown()
                    return result
                } catch {
                    await store.database.shutdown()
                    throw error
                }
            }
        }
    }
}

/// A folder under the system's temporary directory, removed afterwards.
public enum TemporaryFolder {
    public static func with<T>(_ body: (URL) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "iris-test-" + UUID().uuidString.lowercased())
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        return try await body(folder)
    }
}
