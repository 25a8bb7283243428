import Logging
import SQLKit

/// One schema change, written once per dialect where the two databases differ.
public struct Migration: Sendable {
    public let id: String
    public let sqlite: [String]
    public let postgres: [String]

    public init(id: String, sqlite: [String], postgres: [String]) {
        self.id = id
        self.sqlite = sqlite
        self.postgres = postgres
    }

    /// The same statements on both databases.
    public init(id: String, both: [String]) {
        self.init(id: id, sqlite: both, postgres: both)
    }
}

/// Applies migrations in order, each in its own transaction, recording each in `iris_migrations`.
public struct Migrator: Sendable {
    public let database: IrisDatabase
    public let migrations: [Migration]

    public init(database: IrisDatabase, migrations: [Migration] = Migration.all) {
        self.database = database
        self.migrations = migrations
    }

    /// Applies what is missing; returns the ids applied now.
    @discardableResult
    public func migrate() async throws -> [String] {
        try await database.withConnection { db in
            try await db.raw("CREATE TABLE IF NOT EXISTS iris_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)").run()
        }
        var applied: [String] = []
        for migration in migrations {
            let statements = database.dialect == .sqlite ? migration.sqlite : migration.postgres
            let dialect = database.dialect
            let didApply = try await database.transaction { db in
                if dialect == .postgres {
                    // Two processes migrating at once take turns here.
                    try await db.raw("LOCK TABLE iris_migrations IN EXCLUSIVE MODE").run()
                }
                let done = try await db.raw("SELECT id FROM iris_migrations WHERE id = \(bind: migration.id)").first()
                guard done == nil else { return false }
                for statement in statements {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                try await db.raw("INSERT INTO iris_migrations (id, applied_at) VALUES (\(bind: migration.id), \(bind: Clock.nowMilliseconds()))").run()
                return true
            }
            if didApply { applied.append(migration.id) }
        }
        return applied
    }
}
