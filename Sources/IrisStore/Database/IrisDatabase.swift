@preconcurrency import AsyncKit
import IrisCore
public import Logging
import NIOCore
import NIOPosix
import PostgresKit
public import SQLKit
import SQLiteKit

/// The SQL dialect in use; raw SQL differs where the two databases do.
public enum SQLDialectKind: String, Sendable {
    case sqlite, postgres
}

/// A pool of connections to SQLite or PostgreSQL, used through SQLKit.
///
/// Each operation borrows one connection for its whole duration; `transaction`
/// wraps the body in BEGIN/COMMIT (SQLite: `BEGIN IMMEDIATE`, so writers queue on
/// the lock at the start instead of failing to upgrade it later).
public final class IrisDatabase: Sendable {
    public let dialect: SQLDialectKind
    public let location: DatabaseLocation
    private let pool: any ConnectionPoolHandle
    private let logger: Logger
    /// SQLite's writers, queued in-process and committed in groups (see `CommitGroup`).
    private let commits: CommitGroup?
    /// SQLite's blocking calls get their own threads, so image decoding on the shared
    /// pool can never starve the database (and the other way round).
    private let threads: NIOThreadPool?

    public init(location: DatabaseLocation, poolSize: Int = 4, logger: Logger) throws {
        self.location = location
        self.logger = logger
        let group = MultiThreadedEventLoopGroup.singleton
        switch location {
        case .sqlite(let path):
            dialect = .sqlite
            let threads = NIOThreadPool(numberOfThreads: 4)
            threads.start()
            self.threads = threads
            let source = SQLiteConnectionSource(
                configuration: SQLiteConfiguration(storage: .file(path: path), enableForeignKeys: true),
                threadPool: threads)
            // SQLite serialises writers; a few readers per loop is all that helps.
            let pool = Pool(
                EventLoopGroupConnectionPool(
                    source: TunedSQLiteSource(inner: source), maxConnectionsPerEventLoop: 2, on: group)
            ) {
                $0.sql()
            }
            self.pool = pool
            commits = CommitGroup { [logger] body in try await pool.withConnection(logger: logger, body) }
        case .postgres(let url):
            dialect = .postgres
            threads = nil
            commits = nil
            let configuration = try SQLPostgresConfiguration(url: url)
            pool = Pool(
                EventLoopGroupConnectionPool(
                    source: PostgresConnectionSource(sqlConfiguration: configuration),
                    maxConnectionsPerEventLoop: poolSize, on: group)
            ) { $0.sql() }
        }
    }

    /// Runs `body` with one connection from the pool.
    public func withConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await pool.withConnection(logger: logger, body)
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// On SQLite it may share its commit with other writers' transactions (`CommitGroup`).
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws
        -> T
    {
        if let commits { return try await commits.run(body) }
        return try await run(transaction: body, begin: "BEGIN")
    }

    /// Runs `body`, self-contained write statements each atomic on their own: on
    /// PostgreSQL without BEGIN/COMMIT (a round trip less each way); on SQLite as a
    /// transaction, which groups their commit with other writers'.
    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if let commits { return try await commits.run(savepoint: false, body) }
        return try await withConnection(body)
    }

    /// A transaction with a commit of its own, never grouped: the plain transaction
    /// benchmarks compare against.
    public func soloTransaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T)
        async throws -> T
    {
        if let commits { return try await commits.run(alone: true, body) }
        return try await run(transaction: body, begin: "BEGIN")
    }

    private func run<T: Sendable>(
        transaction body: @Sendable (any SQLDatabase) async throws -> T, begin: SQLQueryString
    ) async throws -> T {
        try await withConnection { db in
            try await db.raw(begin).run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    /// PostgreSQL: listens on `channel` over a dedicated connection and calls `notified`
    /// for each notification, until the task is cancelled (reconnecting after failures).
    /// SQLite has no notifications: returns at once.
    public func listen(channel: String, notified: @escaping @Sendable () -> Void) async {
        guard case .postgres(let url) = location, let configuration = try? SQLPostgresConfiguration(url: url) else {
            return
        }
        var attempt = 0
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration.coreConfiguration,
                    id: 0, logger: logger
                ).get()
                attempt = 0
                do {
                    try await connection.listen(on: channel) { notifications in
                        // Whatever was enqueued while this connection was down is found by the first look.
                        notified()
                        for try await _ in notifications { notified() }
                    }
                } catch {}
                try? await connection.close()
            } catch {
                logger.warning(
                    "cannot listen for job notifications", metadata: ["error": "\(String(reflecting: error))"])
            }
            attempt += 1
            try? await Task.sleep(for: .seconds(min(Double(attempt), 10)))
        }
    }

    /// Answers whether the database takes a trivial query (for `/readyz`).
    public func ping() async -> Bool {
        (try? await withConnection { db in try await db.raw("SELECT 1 AS ok").first() }) != nil
    }

    public func shutdown() async {
        try? await pool.shutdown()
        try? await threads?.shutdownGracefully()
    }
}

/// Type-erases the two connection pools.
private protocol ConnectionPoolHandle: Sendable {
    func withConnection<T: Sendable>(logger: Logger, _ body: @Sendable (any SQLDatabase) async throws -> T) async throws
        -> T
    func shutdown() async throws
}

/// AsyncKit's pool guards its state with a lock but is not annotated `Sendable`.
private struct Pool<Source: ConnectionPoolSource>: ConnectionPoolHandle, @unchecked Sendable {
    let pool: EventLoopGroupConnectionPool<Source>
    let database: @Sendable (Source.Connection) -> any SQLDatabase

    init(
        _ pool: EventLoopGroupConnectionPool<Source>,
        database: @escaping @Sendable (Source.Connection) -> any SQLDatabase
    ) {
        self.pool = pool
        self.database = database
    }

    func withConnection<T: Sendable>(logger: Logger, _ body: @Sendable (any SQLDatabase) async throws -> T) async throws
        -> T
    {
        let connection = try await pool.requestConnection(logger: logger).get()
        defer { pool.releaseConnection(connection, logger: logger) }
        return try await body(database(connection))
    }

    func shutdown() async throws {
        try await pool.shutdownAsync()
    }
}

/// Opens SQLite connections in WAL mode with a busy timeout, so concurrent writers
/// wait for each other (up to 30 s) instead of failing with SQLITE_BUSY.
private struct TunedSQLiteSource: ConnectionPoolSource {
    let inner: SQLiteConnectionSource

    func makeConnection(logger: Logger, on eventLoop: any EventLoop) -> EventLoopFuture<SQLiteConnection> {
        inner.makeConnection(logger: logger, on: eventLoop).flatMap { connection in
            connection.query("PRAGMA journal_mode=WAL").flatMap { _ in
                connection.query("PRAGMA busy_timeout=30000")
            }.flatMap { _ in
                // FULL: a committed upload survives power loss, not only a crashed process.
                connection.query("PRAGMA synchronous=FULL")
            }.map { _ in connection }
        }
    }
}
