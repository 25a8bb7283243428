public import Foundation
public import IrisCore
import SQLKit

/// How an attempt at a job ended, as its worker reports it.
public enum JobOutcome: Sendable {
    case succeeded(result: String?, detail: String? = nil)
    /// A failure worth retrying: queued again after `retryIn` seconds, or `dead` when the
    /// job has no attempts left.
    case failed(error: String, retryIn: Double, detail: String? = nil)
    /// A failure no retry can mend: the job is `failed` at once.
    case failedPermanently(error: String, detail: String? = nil)
    case cancelled
    /// The worker is stopping and gives the job back untouched; the attempt does not count.
    case released
}

/// What a worker learns when it renews its lease.
public enum LeaseStatus: Sendable, Equatable {
    case held(cancelRequested: Bool)
    /// The lease expired and another worker may have the job: stop, and do not report.
    case lost
}

/// How many jobs are in one state of one queue.
public struct QueueDepth: Sendable, Equatable {
    public var queue: String
    public var state: JobState
    public var count: Int
}

/// The durable job queue, in the database Iris already has.
///
/// Claiming is one statement: PostgreSQL picks the best waiting job with
/// `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait for or take the same row;
/// SQLite runs the same statement inside its single immediate write transaction. A claim
/// takes a lease that the worker renews; a job whose lease runs out (its worker died) is
/// put back by `reapExpiredLeases` and claimed again: delivery is at least once.
public protocol JobRepository: Sendable {
    /// Adds a job, or returns the live or succeeded job that already holds its idempotency key
    /// (`created` false). With `claimedBy`, the new job is stored already claimed by that
    /// worker (leased for `lease` seconds): the hand-off to an idle worker.
    func enqueue(_ request: JobRequest, claimedBy worker: String?, lease: Double) async throws -> (
        job: Job, created: Bool
    )
    /// Adds many jobs in one transaction (same idempotency rule for each).
    func enqueue(_ requests: [JobRequest]) async throws -> [Job]
    /// Takes up to `limit` of the best due jobs of `queues` for `worker`, leased for `lease`
    /// seconds, best first.
    func claim(queues: [String], worker: String, lease: Double, limit: Int) async throws -> [Job]
    /// Records how the attempt ended, then (in the same write) claims up to `next.limit`
    /// jobs when `next` is given. Answers false for `recorded` when the worker had lost the lease.
    func finish(_ job: Job, worker: String, outcome: JobOutcome, next: (queues: [String], lease: Double, limit: Int)?)
        async throws
        -> (recorded: Bool, next: [Job])
    /// Gives back claimed jobs a worker has not started (prefetched): queued again, the
    /// attempt not counted and not logged.
    func release(ids: [Int64], worker: String) async throws
    /// Renews the lease and stores progress.
    func heartbeat(id: Int64, worker: String, lease: Double, progress: Double?, message: String?) async throws
        -> LeaseStatus
    /// Puts back running jobs whose lease has expired (or ends them when out of attempts or
    /// cancelled); answers how many.
    @discardableResult
    func reapExpiredLeases() async throws -> Int
    /// Cancels a queued job at once, or asks a running one to stop. 404 unknown, 409 finished.
    func cancel(id: Int64) async throws -> Job
    /// Queues a dead or failed job again with fresh attempts. 404 unknown, 409 otherwise.
    func retry(id: Int64) async throws -> Job
    func find(id: Int64) async throws -> Job?
    /// The jobs `filter` lets through, newest first, ids below `before` (a keyset page: the
    /// next page starts below the last id of this one, however many rows come and go).
    func list(_ filter: JobFilter, before: Int64?, limit: Int) async throws -> [Job]
    func runs(jobID: Int64) async throws -> [JobRun]
    /// When the next waiting job of `queues` becomes due (nil: none waiting).
    func nextDue(queues: [String]) async throws -> Date?
    func depth() async throws -> [QueueDepth]
    /// Deletes succeeded and cancelled jobs finished before `date`; answers how many.
    func prune(finishedBefore date: Date) async throws -> Int
    /// Which of `keys` some job (in any state, pruned ones aside) carries as its idempotency key.
    func existingKeys(_ keys: [String]) async throws -> Set<String>
}

/// Which jobs a list holds: every condition that is set must hold.
public struct JobFilter: Sendable, Equatable {
    public var state: JobState?
    public var kind: String?
    /// The projects whose jobs may be listed; nil means every job, those of no project too
    /// (administrators). A caller's filter by project narrows this, never widens it.
    public var projectIDs: [Int64]?
    public var keyPrefix: String?
    /// Created at or after this instant.
    public var createdSince: Date?
    /// Created strictly before this instant.
    public var createdBefore: Date?

    public init(
        state: JobState? = nil, kind: String? = nil, projectIDs: [Int64]? = nil, keyPrefix: String? = nil,
        createdSince: Date? = nil, createdBefore: Date? = nil
    ) {
        (self.state, self.kind, self.projectIDs, self.keyPrefix) = (state, kind, projectIDs, keyPrefix)
        (self.createdSince, self.createdBefore) = (createdSince, createdBefore)
    }
}

extension JobRepository {
    /// Newest first, ids below `before`; `projectIDs` nil means every job.
    public func list(
        state: JobState?, kind: String?, projectIDs: [Int64]?, keyPrefix: String?, before: Int64?, limit: Int
    ) async throws -> [Job] {
        try await list(
            JobFilter(state: state, kind: kind, projectIDs: projectIDs, keyPrefix: keyPrefix), before: before,
            limit: limit)
    }

    public func enqueue(_ request: JobRequest) async throws -> (job: Job, created: Bool) {
        try await enqueue(request, claimedBy: nil, lease: 0)
    }

    /// Takes the best due job of `queues`, if any.
    public func claim(queues: [String], worker: String, lease: Double) async throws -> Job? {
        try await claim(queues: queues, worker: worker, lease: lease, limit: 1).first
    }
}

/// `JobRepository` in SQL, for SQLite and PostgreSQL alike.
public struct SQLJobRepository: JobRepository {
    let database: IrisDatabase
    /// PostgreSQL channel on which enqueues wake sleeping workers.
    public static let channel = "iris_jobs"

    public init(database: IrisDatabase) { self.database = database }

    static let columns = """
        id, kind, queue, payload, priority, state, attempts, max_attempts, run_after, lease_owner, lease_expires_at, progress, \
        progress_message, result, error, idempotency_key, cancel_requested, project_id, created_at, started_at, finished_at
        """
    static let live = "('queued', 'running', 'succeeded')"

    public func enqueue(_ request: JobRequest, claimedBy worker: String?, lease: Double) async throws -> (
        job: Job, created: Bool
    ) {
        let dialect = database.dialect
        // One statement: the insert (and, on PostgreSQL, the wake-up) commits on its own.
        return try await database.write { db in
            try await Self.insert(request, db, dialect: dialect, claimedBy: worker, lease: lease)
        }
    }

    public func enqueue(_ requests: [JobRequest]) async throws -> [Job] {
        let dialect = database.dialect
        return try await database.transaction { db in
            var jobs: [Job] = []
            for request in requests { jobs.append(try await Self.insert(request, db, dialect: dialect).job) }
            return jobs
        }
    }

    static func insert(
        _ request: JobRequest, _ db: any SQLDatabase, dialect: SQLDialectKind, claimedBy worker: String? = nil,
        lease: Double = 0
    ) async throws -> (job: Job, created: Bool) {
        let now = Clock.nowMilliseconds()
        let runAfter = request.runAfter.map(Clock.milliseconds) ?? now
        let claimed = worker != nil
        let insert: SQLQueryString = """
            INSERT INTO jobs (kind, queue, payload, priority, state, attempts, max_attempts, run_after, idempotency_key, project_id, created_at, updated_at,
            lease_owner, lease_expires_at, started_at)
            VALUES (\(bind: request.kind), \(bind: request.queue), \(bind: request.payload), \(bind: request.priority),
            \(bind: claimed ? "running" : "queued"), \(bind: claimed ? 1 : 0),
            \(bind: request.maxAttempts), \(bind: runAfter), \(bind: request.idempotencyKey), \(bind: request.projectID), \(bind: now), \(bind: now),
            \(bind: worker), \(bind: claimed ? now + Int64(lease * 1000) : nil), \(bind: claimed ? now : nil))
            ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL AND state IN \(unsafeRaw: live) DO NOTHING
            RETURNING \(unsafeRaw: columns)
            """
        // PostgreSQL: the notification rides on the same statement and is sent when it commits
        // (not needed when the job goes straight to a worker).
        let statement: SQLQueryString =
            dialect == .postgres && !claimed
            ? "WITH inserted AS (\(insert)) SELECT inserted.*, pg_notify(\(bind: channel), inserted.queue)::text AS notified FROM inserted"
            : insert
        if let inserted = try await db.raw(statement).first() { return (try job(inserted), true) }
        guard let key = request.idempotencyKey,
            let existing = try await db.raw(
                """
                SELECT \(unsafeRaw: columns) FROM jobs WHERE idempotency_key = \(bind: key) AND state IN \(unsafeRaw: live)
                """
            ).first()
        else { throw StoreError.inconsistent("the job was neither added nor found") }
        return (try job(existing), false)
    }

    public func claim(queues: [String], worker: String, lease: Double, limit: Int) async throws -> [Job] {
        let dialect = database.dialect
        return try await database.write { db in
            try await Self.claim(queues: queues, worker: worker, lease: lease, limit: limit, db, dialect: dialect)
        }
    }

    private static func claim(
        queues: [String], worker: String, lease: Double, limit: Int, _ db: any SQLDatabase, dialect: SQLDialectKind
    ) async throws -> [Job] {
        guard !queues.isEmpty, limit > 0 else { return [] }
        let statement = claimStatement(queues: queues, worker: worker, lease: lease, limit: limit, dialect: dialect)
        return ordered(try await db.raw("\(statement) RETURNING \(unsafeRaw: columns)").all().map(job))
    }

    /// Best first: the order the claim chose them in (RETURNING does not keep it).
    static func ordered(_ jobs: [Job]) -> [Job] {
        jobs.sorted { ($0.priority, $1.runAfter, $1.id) > ($1.priority, $0.runAfter, $0.id) }
    }

    /// The claim: one UPDATE of the best due jobs of `queues` (without RETURNING).
    private static func claimStatement(
        queues: [String], worker: String, lease: Double, limit: Int, dialect: SQLDialectKind
    ) -> SQLQueryString {
        let now = Clock.nowMilliseconds()
        let expires = now + Int64(lease * 1000)
        let lock: SQLQueryString = dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        return """
            UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = \(bind: worker), lease_expires_at = \(bind: expires),
            started_at = \(bind: now), updated_at = \(bind: now), progress = 0, progress_message = NULL, run_outcome = NULL, run_detail = NULL
            WHERE id IN (
                SELECT id FROM jobs WHERE state = 'queued' AND queue IN (\(binds: queues)) AND run_after <= \(bind: now)
                ORDER BY priority DESC, run_after, id LIMIT \(bind: limit)\(lock))
            """
    }

    public func finish(
        _ job: Job, worker: String, outcome: JobOutcome, next: (queues: [String], lease: Double, limit: Int)?
    ) async throws
        -> (recorded: Bool, next: [Job])
    {
        let dialect = database.dialect
        let record = Self.recordStatement(job, worker: worker, outcome: outcome)
        if dialect == .postgres, let next, !next.queues.isEmpty, next.limit > 0 {
            // One round trip: record this attempt and claim the next jobs in one statement.
            let claim = Self.claimStatement(
                queues: next.queues, worker: worker, lease: next.lease, limit: next.limit, dialect: dialect)
            return try await database.write { db in
                let rows = try await db.raw(
                    """
                    WITH done AS (\(record) RETURNING id), claimed AS (\(claim) RETURNING \(unsafeRaw: Self.columns))
                    SELECT (SELECT COUNT(*) FROM done) AS recorded, claimed.* FROM (SELECT 1 AS one) AS one LEFT JOIN claimed ON true
                    """
                ).all()
                let recorded = try rows.first?.decode(column: "recorded", as: Int64.self) ?? 0 > 0
                let claimed = try rows.filter { try $0.decode(column: "id", as: Int64?.self) != nil }.map(Self.job)
                return (recorded, Self.ordered(claimed))
            }
        }
        // SQLite: one write, so one commit (shared with other writers') for both.
        return try await database.write { db in
            let recorded = try await db.raw("\(record) RETURNING id").first() != nil
            guard let next else { return (recorded, []) }
            return (
                recorded,
                try await Self.claim(
                    queues: next.queues, worker: worker, lease: next.lease, limit: next.limit, db, dialect: dialect)
            )
        }
    }

    public func release(ids: [Int64], worker: String) async throws {
        guard !ids.isEmpty else { return }
        let now = Clock.nowMilliseconds()
        try await database.write { db in
            try await db.raw(
                """
                UPDATE jobs SET state = 'queued', attempts = attempts - 1, lease_owner = NULL, lease_expires_at = NULL, run_outcome = NULL,
                updated_at = \(bind: now) WHERE id IN (\(binds: ids)) AND lease_owner = \(bind: worker) AND state = 'running'
                """
            ).run()
        }
    }

    /// Records how an attempt ended: one UPDATE (without RETURNING); the `jobs_log_run`
    /// trigger writes the attempt into `job_runs`.
    private static func recordStatement(_ job: Job, worker: String, outcome: JobOutcome) -> SQLQueryString {
        let now = Clock.nowMilliseconds()
        let change: SQLQueryString
        switch outcome {
        case .succeeded(let result, let detail):
            change =
                "state = 'succeeded', result = \(bind: result), progress = 1, finished_at = \(bind: now), error = NULL, run_outcome = 'succeeded', run_detail = \(bind: detail)"
        case .failed(let error, let retryIn, let detail) where job.attempts < job.maxAttempts:
            change =
                "state = 'queued', error = \(bind: error), run_after = \(bind: now + Int64(retryIn * 1000)), run_outcome = 'failed', run_detail = \(bind: detail)"
        case .failed(let error, _, let detail), .failedPermanently(let error, let detail):
            let state = if case .failed = outcome { "dead" } else { "failed" }
            change =
                "state = \(bind: state), error = \(bind: error), finished_at = \(bind: now), run_outcome = 'failed', run_detail = \(bind: detail)"
        case .cancelled:
            change = "state = 'cancelled', finished_at = \(bind: now), run_outcome = 'cancelled', run_detail = NULL"
        case .released:
            change =
                "state = 'queued', attempts = attempts - 1, run_after = \(bind: now), run_outcome = 'released', run_detail = NULL"
        }
        return """
            UPDATE jobs SET \(change), lease_owner = NULL, lease_expires_at = NULL, updated_at = \(bind: now)
            WHERE id = \(bind: job.id) AND lease_owner = \(bind: worker) AND state = 'running'
            """
    }

    public func heartbeat(id: Int64, worker: String, lease: Double, progress: Double?, message: String?) async throws
        -> LeaseStatus
    {
        let now = Clock.nowMilliseconds()
        return try await database.write { db in
            var change: SQLQueryString =
                "lease_expires_at = \(bind: now + Int64(lease * 1000)), updated_at = \(bind: now)"
            if let progress { change += ", progress = \(bind: min(max(progress, 0), 1))" }
            if let message { change += ", progress_message = \(bind: message)" }
            guard
                let row = try await db.raw(
                    """
                    UPDATE jobs SET \(change) WHERE id = \(bind: id) AND lease_owner = \(bind: worker) AND state = 'running'
                    RETURNING cancel_requested
                    """
                ).first()
            else { return .lost }
            return .held(cancelRequested: try row.decode(column: "cancel_requested", as: Int64.self) != 0)
        }
    }

    public func reapExpiredLeases() async throws -> Int {
        let now = Clock.nowMilliseconds()
        return try await database.write { db in
            try await db.raw(
                """
                UPDATE jobs SET
                  state = CASE WHEN cancel_requested <> 0 THEN 'cancelled' WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
                  finished_at = CASE WHEN cancel_requested <> 0 OR attempts >= max_attempts THEN \(bind: now) ELSE NULL END,
                  error = 'the worker running it stopped answering (its lease expired)', run_outcome = 'lost', run_detail = NULL,
                  lease_owner = NULL, lease_expires_at = NULL, run_after = \(bind: now), updated_at = \(bind: now)
                WHERE state = 'running' AND lease_expires_at < \(bind: now)
                RETURNING id
                """
            ).all().count
        }
    }

    public func cancel(id: Int64) async throws -> Job {
        let now = Clock.nowMilliseconds()
        return try await change(id: id) { job, db in
            switch job.state {
            case .queued:
                return "state = 'cancelled', finished_at = \(bind: now), updated_at = \(bind: now)"
            case .running:
                return "cancel_requested = 1, updated_at = \(bind: now)"
            default:
                throw StoreError.conflict(
                    "job \(id) is already \(job.state.rawValue); only queued or running jobs can be cancelled")
            }
        }
    }

    public func retry(id: Int64) async throws -> Job {
        let now = Clock.nowMilliseconds()
        return try await change(id: id) { job, db in
            guard job.state == .dead || job.state == .failed else {
                throw StoreError.conflict("job \(id) is \(job.state.rawValue); only dead or failed jobs can be retried")
            }
            if let key = job.idempotencyKey,
                let other = try await db.raw(
                    "SELECT id FROM jobs WHERE idempotency_key = \(bind: key) AND state IN \(unsafeRaw: Self.live)"
                ).first()
            {
                let otherID = try other.decode(column: "id", as: Int64.self)
                throw StoreError.conflict("job \(otherID) already does this work (idempotency key \(key))")
            }
            return """
                state = 'queued', attempts = 0, run_after = \(bind: now), finished_at = NULL, cancel_requested = 0,
                progress = 0, progress_message = NULL, updated_at = \(bind: now)
                """
        }
    }

    /// Reads the job under a row lock, lets `body` decide the change (or refuse), applies it.
    private func change(id: Int64, _ body: @Sendable @escaping (Job, any SQLDatabase) async throws -> SQLQueryString)
        async throws -> Job
    {
        let lock: SQLQueryString = database.dialect == .postgres ? " FOR UPDATE" : ""
        return try await database.transaction { db in
            guard
                let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM jobs WHERE id = \(bind: id)\(lock)")
                    .first()
            else {
                throw StoreError.notFound("no job has id \(id)")
            }
            let change = try await body(try Self.job(row), db)
            guard
                let updated = try await db.raw(
                    "UPDATE jobs SET \(change) WHERE id = \(bind: id) RETURNING \(unsafeRaw: Self.columns)"
                ).first()
            else {
                throw StoreError.notFound("no job has id \(id)")
            }
            return try Self.job(updated)
        }
    }

    public func find(id: Int64) async throws -> Job? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM jobs WHERE id = \(bind: id)").first().map(Self.job)
        }
    }

    public func list(_ filter: JobFilter, before: Int64?, limit: Int) async throws -> [Job] {
        if let projectIDs = filter.projectIDs, projectIDs.isEmpty { return [] }
        return try await database.withConnection { db in
            var query: SQLQueryString =
                "SELECT \(unsafeRaw: Self.columns) FROM jobs WHERE id < \(bind: before ?? Int64.max)"
            if let state = filter.state { query += " AND state = \(bind: state.rawValue)" }
            if let kind = filter.kind { query += " AND kind = \(bind: kind)" }
            if let projectIDs = filter.projectIDs { query += " AND project_id IN (\(binds: projectIDs))" }
            if let keyPrefix = filter.keyPrefix {
                query += " AND idempotency_key LIKE \(bind: keyPrefix.replacingOccurrences(of: "%", with: "") + "%")"
            }
            if let since = filter.createdSince { query += " AND created_at >= \(bind: Clock.milliseconds(since))" }
            if let before = filter.createdBefore { query += " AND created_at < \(bind: Clock.milliseconds(before))" }
            query += " ORDER BY id DESC LIMIT \(bind: limit)"
            return try await db.raw(query).all().map(Self.job)
        }
    }

    /// Finished attempts from `job_runs`, then the attempt in progress (from the job's row).
    public func runs(jobID: Int64) async throws -> [JobRun] {
        var runs = try await finishedRuns(jobID: jobID)
        if let job = try await find(id: jobID), job.state == .running, let started = job.startedAt {
            runs.append(
                JobRun(
                    jobID: jobID, attempt: job.attempts, worker: job.leaseOwner ?? "", startedAt: started,
                    finishedAt: nil,
                    outcome: "running", error: nil, detail: nil))
        }
        return runs
    }

    private func finishedRuns(jobID: Int64) async throws -> [JobRun] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT job_id, attempt, worker, started_at, finished_at, outcome, error, detail FROM job_runs
                WHERE job_id = \(bind: jobID) ORDER BY id
                """
            ).all().map { row in
                JobRun(
                    jobID: try row.decode(column: "job_id", as: Int64.self),
                    attempt: try row.decode(column: "attempt", as: Int.self),
                    worker: try row.decode(column: "worker", as: String.self),
                    startedAt: Clock.date(milliseconds: try row.decode(column: "started_at", as: Int64.self)),
                    finishedAt: try row.decode(column: "finished_at", as: Int64?.self).map(Clock.date(milliseconds:)),
                    outcome: try row.decode(column: "outcome", as: String.self),
                    error: try row.decode(column: "error", as: String?.self),
                    detail: try row.decode(column: "detail", as: String?.self))
            }
        }
    }

    public func nextDue(queues: [String]) async throws -> Date? {
        guard !queues.isEmpty else { return nil }
        return try await database.withConnection { db in
            try await db.raw(
                "SELECT MIN(run_after) AS due FROM jobs WHERE state = 'queued' AND queue IN (\(binds: queues))"
            ).first()
                .flatMap { try $0.decode(column: "due", as: Int64?.self) }.map(Clock.date(milliseconds:))
        }
    }

    public func depth() async throws -> [QueueDepth] {
        try await database.withConnection { db in
            try await db.raw("SELECT queue, state, COUNT(*) AS n FROM jobs GROUP BY queue, state ORDER BY queue, state")
                .all().compactMap { row in
                    guard let state = JobState(rawValue: try row.decode(column: "state", as: String.self)) else {
                        return nil
                    }
                    return QueueDepth(
                        queue: try row.decode(column: "queue", as: String.self), state: state,
                        count: try row.decode(column: "n", as: Int.self))
                }
        }
    }

    public func prune(finishedBefore date: Date) async throws -> Int {
        let cutoff = Clock.milliseconds(date)
        return try await database.transaction { db in
            try await db.raw(
                """
                DELETE FROM jobs WHERE state IN ('succeeded', 'cancelled') AND finished_at < \(bind: cutoff) RETURNING id
                """
            ).all().count
        }
    }

    public func existingKeys(_ keys: [String]) async throws -> Set<String> {
        guard !keys.isEmpty else { return [] }
        return try await database.withConnection { db in
            Set(
                try await db.raw("SELECT DISTINCT idempotency_key FROM jobs WHERE idempotency_key IN (\(binds: keys))")
                    .all().map {
                        try $0.decode(column: "idempotency_key", as: String.self)
                    })
        }
    }

    static func job(_ row: any SQLRow) throws -> Job {
        func date(_ column: String) throws -> Date? {
            try row.decode(column: column, as: Int64?.self).map(Clock.date(milliseconds:))
        }
        let stateName = try row.decode(column: "state", as: String.self)
        guard let state = JobState(rawValue: stateName) else {
            throw StoreError.inconsistent("job row has unknown state \(stateName)")
        }
        return Job(
            id: try row.decode(column: "id", as: Int64.self),
            kind: try row.decode(column: "kind", as: String.self),
            queue: try row.decode(column: "queue", as: String.self),
            payload: try row.decode(column: "payload", as: String.self),
            priority: try row.decode(column: "priority", as: Int.self),
            state: state,
            attempts: try row.decode(column: "attempts", as: Int.self),
            maxAttempts: try row.decode(column: "max_attempts", as: Int.self),
            runAfter: Clock.date(milliseconds: try row.decode(column: "run_after", as: Int64.self)),
            leaseOwner: try row.decode(column: "lease_owner", as: String?.self),
            leaseExpiresAt: try date("lease_expires_at"),
            progress: try row.decode(column: "progress", as: Double.self),
            progressMessage: try row.decode(column: "progress_message", as: String?.self),
            result: try row.decode(column: "result", as: String?.self),
            error: try row.decode(column: "error", as: String?.self),
            idempotencyKey: try row.decode(column: "idempotency_key", as: String?.self),
            cancelRequested: try row.decode(column: "cancel_requested", as: Int64.self) != 0,
            projectID: try row.decode(column: "project_id", as: Int64?.self),
            createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)),
            startedAt: try date("started_at"),
            finishedAt: try date("finished_at"))
    }
}
