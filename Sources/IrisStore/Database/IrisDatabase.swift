@preconcurrency import AsyncKit
import Foundation
import IrisCore
public import Logging
import NIOCore
import NIOPosix
import PostgresKit
public import SQLKit
import SQLiteKit

#if canImport(Glibc)
    import Glibc
#endif

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
    /// PostgreSQL: connections that only hold advisory locks (`withExclusiveLock`), apart from
    /// the pool whose connections the locked work itself uses, so lockers can never take every
    /// connection that work needs.
    private let lockPool: (any ConnectionPoolHandle)?
    /// SQLite: the folder of lock files beside the database.
    private let lockFolder: String?
    /// One process's own waiters queue here first.
    private let localLocks = KeyedLock()

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
            lockPool = nil
            lockFolder = path + "-locks"
        case .postgres(let url):
            dialect = .postgres
            threads = nil
            commits = nil
            lockFolder = nil
            let configuration = try SQLPostgresConfiguration(url: url)
            pool = Pool(
                EventLoopGroupConnectionPool(
                    source: PostgresConnectionSource(sqlConfiguration: configuration),
                    maxConnectionsPerEventLoop: poolSize, on: group)
            ) { $0.sql() }
            // A waiter for a lock connection is waiting for the lock itself: as long as a lock
            // another process holds is waited for on SQLite, not AsyncKit's 10 s default (a
            // burst of uploads once timed out here under load).
            lockPool = Pool(
                EventLoopGroupConnectionPool(
                    source: PostgresConnectionSource(sqlConfiguration: configuration), maxConnectionsPerEventLoop: 4,
                    requestTimeout: .seconds(Int64(Self.lockWait.components.seconds)), on: group)
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

    /// Runs `body` while no other process sharing this database (nor another task here) holds
    /// the lock for `key` (an image's SHA-256): an upload and a deletion of the same bytes on
    /// two servers never interleave between "the blob exists" and "the row exists". PostgreSQL:
    /// a transaction-scoped advisory lock on a connection of its own, which the server releases
    /// if this process dies. SQLite: an exclusive `flock` on one of 256 lock files beside the
    /// database (by the key's first two characters), which the kernel releases likewise.
    ///
    /// Within this process one task at a time holds a lock file (an `flock` is per open file,
    /// so two keys of one file would otherwise wait on each other in the kernel), and a file
    /// another process holds is polled for without blocking a thread: a blocked `flock` once
    /// held SQLite's own threads while the holder needed them for a query, and an import of
    /// two images whose hashes began alike stopped.
    public func withExclusiveLock<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T
    {
        if let lockPool {
            return try await localLocks.withLock(key) {
                try await lockPool.withConnection(logger: logger) { connection in
                    try await connection.raw("BEGIN").run()
                    do {
                        try await connection.raw("SELECT pg_advisory_xact_lock(\(bind: Self.lockNumber(key)))").run()
                        let result = try await body()
                        try await connection.raw("COMMIT").run()
                        return result
                    } catch {
                        try? await connection.raw("ROLLBACK").run()
                        throw error
                    }
                }
            }
        }
        guard let lockFolder else { return try await localLocks.withLock(key) { try await body() } }
        let shard = String(key.prefix(2)).filter { $0.isLetter || $0.isNumber }
        let path = lockFolder + "/" + (shard.isEmpty ? "00" : shard) + ".lock"
        return try await localLocks.withLock(path) {
            try FileManager.default.createDirectory(atPath: lockFolder, withIntermediateDirectories: true)
            let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw StoreError.inconsistent("cannot open the lock file \(path)") }
            defer { close(descriptor) }
            let deadline = ContinuousClock.now + Self.lockWait
            while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
                guard errno == EWOULDBLOCK || errno == EINTR else {
                    throw StoreError.inconsistent("cannot lock \(path)")
                }
                guard ContinuousClock.now < deadline else {
                    throw StoreError.inconsistent(
                        "another process held the lock on image \(key.prefix(12))… for over \(Self.lockWait)")
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            defer { flock(descriptor, LOCK_UN) }
            return try await body()
        }
    }

    /// How long a lock another process holds is waited for (an upload of the largest allowed
    /// image holds one for seconds, not minutes).
    static let lockWait = Duration.seconds(300)

    /// The advisory lock's number: the key's first 16 hex digits as a signed 64-bit integer
    /// (any other key is hashed first).
    static func lockNumber(_ key: String) -> Int64 {
        if key.count >= 16, let value = UInt64(key.prefix(16), radix: 16) { return Int64(bitPattern: value) }
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return Int64(bitPattern: hash)
    }

    /// Answers whether the database takes a trivial query (for `/readyz`).
    public func ping() async -> Bool {
        (try? await withConnection { db in try await db.raw("SELECT 1 AS ok").first() }) != nil
    }

    public func shutdown() async {
        try? await pool.shutdown()
        try? await lockPool?.shutdown()
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
