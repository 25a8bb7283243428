import Foundation
import IrisCore
public import IrisStore
public import Logging
import SQLKit

/// `iris jobs bench`: the job queue's throughput against bare transactions on the same
/// database, in one run (Benchmarks/jobs.py calls it for SQLite and PostgreSQL).
///
/// Baseline: `count` transactions from two writers, each inserting one row with a commit
/// of its own: the least a durable queue could do per job. Jobs: `count` no-op
/// `diagnostic` jobs, enqueued one per call by two producers while two workers (the real
/// `JobWorkers`) claim and complete them; timed from the first enqueue until the last
/// completion.
public enum JobBenchmark {
    public struct Report: Codable, Sendable {
        public init(
            database: String, jobs: Int, baselineTransactionsPerSecond: Double, jobsPerSecond: Double, ratio: Double,
            waitP50Milliseconds: Double, waitP99Milliseconds: Double
        ) {
            self.database = database
            self.jobs = jobs
            self.baselineTransactionsPerSecond = baselineTransactionsPerSecond
            self.jobsPerSecond = jobsPerSecond
            self.ratio = ratio
            self.waitP50Milliseconds = waitP50Milliseconds
            self.waitP99Milliseconds = waitP99Milliseconds
        }

        public var database: String
        public var jobs: Int
        public var baselineTransactionsPerSecond: Double
        public var jobsPerSecond: Double
        public var ratio: Double
        public var waitP50Milliseconds: Double
        public var waitP99Milliseconds: Double
    }

    public static func run(_ settings: IrisSettings, count: Int) async throws -> Report {
        let logger = settings.makeLogger()
        let store = try await IrisStore.open(settings.database, poolSize: settings.poolSize, logger: logger)
        do {
            let report = try await measure(store, count: count, logger: logger)
            await store.database.shutdown()
            return report
        } catch {
            await store.database.shutdown()
            throw error
        }
    }

    public static func measure(_ store: IrisStore, count: Int, logger: Logger) async throws -> Report {
        let database = store.database
        try await database.transaction { db in
            try await db.raw(
                "CREATE TABLE IF NOT EXISTS bench_transactions (id BIGINT NOT NULL, payload TEXT NOT NULL, created_at BIGINT NOT NULL)"
            ).run()
        }
        // Baseline: bare transactions, two writers.
        let baselineStart = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<2 {
                group.addTask {
                    for index in stride(from: writer, to: count, by: 2) {
                        try await database.soloTransaction { db in
                            try await db.raw(
                                """
                                INSERT INTO bench_transactions (id, payload, created_at) VALUES (\(bind: index), '{}', \(bind: Clock.nowMilliseconds()))
                                """
                            ).run()
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let baseline = (ContinuousClock.now - baselineStart).seconds

        // Jobs: one producer enqueues while two workers claim and complete.
        var registry = JobRegistry()
        registry.register(DiagnosticJob())
        let queue = JobQueue(store: store, registry: registry, leaseSeconds: 30)
        let settings = JobSettings(
            workers: [WorkerGroup(queues: ["bench"], concurrency: 2)], leaseSeconds: 30, prefetch: 4, pollSeconds: 1,
            graceSeconds: 5)
        var quiet = logger
        quiet.logLevel = .warning
        let workers = JobWorkers(
            queue: queue, groups: settings.workers, settings: settings, metrics: IrisMetrics(), logger: quiet)
        let running = Task { await workers.run() }
        let jobsStart = ContinuousClock.now
        // Two producers, as the baseline has two writers.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<2 {
                group.addTask {
                    for _ in stride(from: producer, to: count, by: 2) {
                        try await queue.enqueue(JobRequest(kind: DiagnosticJob.kind, payload: "{}", queue: "bench"))
                    }
                }
            }
            try await group.waitForAll()
        }
        while try await store.jobs.depth().contains(where: {
            $0.queue == "bench" && ($0.state == .queued || $0.state == .running)
        }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let elapsed = (ContinuousClock.now - jobsStart).seconds
        workers.beginStop()
        await running.value

        let jobs = try await store.jobs.list(
            state: .succeeded, kind: DiagnosticJob.kind, projectIDs: nil, keyPrefix: nil, before: nil, limit: count + 1)
        guard jobs.count == count else {
            throw Problem.unavailable("only \(jobs.count) of \(count) benchmark jobs succeeded")
        }
        let waits = jobs.compactMap { job in job.startedAt.map { $0.timeIntervalSince(job.createdAt) * 1000 } }.sorted()
        func percentile(_ p: Double) -> Double {
            waits.isEmpty ? 0 : waits[min(waits.count - 1, Int(Double(waits.count) * p))]
        }
        let baselineRate = Double(count) / baseline
        let jobRate = Double(count) / elapsed
        return Report(
            database: database.dialect.rawValue, jobs: count, baselineTransactionsPerSecond: baselineRate,
            jobsPerSecond: jobRate,
            ratio: jobRate / baselineRate, waitP50Milliseconds: percentile(0.5), waitP99Milliseconds: percentile(0.99))
    }
}

extension Duration {
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
