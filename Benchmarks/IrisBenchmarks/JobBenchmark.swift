import Foundation
import IrisCore
public import IrisServices
import IrisStore
import Logging
import SQLKit

/// `iris jobs bench`: the job queue's throughput against bare transactions on the same
/// database, in one run (`make bench` calls it for SQLite and PostgreSQL).
///
/// Baseline: `count` transactions from two writers, each inserting one row with a commit
/// of its own: the least a durable queue could do per job. Jobs: `count` no-op
/// `diagnostic` jobs, enqueued one per call by two producers while two workers (the real
/// `JobWorkers`) claim and complete them; timed from the first enqueue until the last
/// completion. The two alternate, baseline then jobs, for `rounds` pairs, so a change in the
/// machine's speed falls on both halves of a pair; the report gives the median ratio and its range.
public enum JobBenchmark {
    public struct Report: Codable, Sendable {
        public var database: String
        public var jobs: Int
        public var pairs: Int
        /// Medians over the pairs.
        public var baselineTransactionsPerSecond: Double
        public var jobsPerSecond: Double
        /// The median of the pairs' jobs / baseline ratios, and the lowest and highest.
        public var ratio: Double
        public var ratioMin: Double
        public var ratioMax: Double
        /// Over every job of every pair: enqueued to started.
        public var waitP50Milliseconds: Double
        public var waitP99Milliseconds: Double
    }

    public static func run(_ settings: IrisSettings, count: Int, rounds: Int) async throws -> Report {
        let logger = settings.makeLogger()
        let store = try await IrisStore.open(settings.database, poolSize: settings.poolSize, logger: logger)
        do {
            let report = try await measure(store, count: count, rounds: rounds, logger: logger)
            await store.database.shutdown()
            return report
        } catch {
            await store.database.shutdown()
            throw error
        }
    }

    static func measure(_ store: IrisStore, count: Int, rounds: Int, logger: Logger) async throws -> Report {
        try await store.database.transaction { db in
            try await db.raw(
                "CREATE TABLE IF NOT EXISTS bench_transactions (id BIGINT NOT NULL, payload TEXT NOT NULL, created_at BIGINT NOT NULL)"
            ).run()
        }
        let registry = JobRegistry()
        registry.register(DiagnosticJob())
        let queue = JobQueue(store: store, registry: registry, leaseSeconds: 30)
        let settings = JobSettings(
            workers: [WorkerGroup(queues: ["bench"], concurrency: 2)], leaseSeconds: 30, prefetch: 4, pollSeconds: 1,
            graceSeconds: 5)
        var quiet = logger
        quiet.logLevel = .warning
        let workers = JobWorkers(
            queue: queue, groups: settings.workers, settings: settings, metrics: IrisMetrics(),
            audit: AuditLog(store: store), logger: quiet)
        let running = Task { await workers.run() }
        var baselineRates: [Double] = []
        var jobRates: [Double] = []
        do {
            for round in 0..<max(rounds, 1) {
                baselineRates.append(Double(count) / (try await transactions(store, count: count, round: round)))
                jobRates.append(Double(count) / (try await jobs(store, queue: queue, count: count)))
            }
        } catch {
            workers.beginStop()
            await running.value
            throw error
        }
        workers.beginStop()
        await running.value

        let done = try await store.jobs.list(
            state: .succeeded, kind: DiagnosticJob.kind, projectIDs: nil, keyPrefix: nil, before: nil,
            limit: count * rounds + 1)
        guard done.count == count * rounds else {
            throw Refusal.unavailable("only \(done.count) of \(count * rounds) benchmark jobs succeeded")
        }
        let waits = done.compactMap { job in job.startedAt.map { $0.timeIntervalSince(job.createdAt) * 1000 } }.sorted()
        func percentile(_ p: Double) -> Double {
            waits.isEmpty ? 0 : waits[min(waits.count - 1, Int(Double(waits.count) * p))]
        }
        let ratios = zip(jobRates, baselineRates).map { $0 / $1 }
        return Report(
            database: store.database.dialect.rawValue, jobs: count, pairs: ratios.count,
            baselineTransactionsPerSecond: Pairs.median(baselineRates), jobsPerSecond: Pairs.median(jobRates),
            ratio: Pairs.median(ratios), ratioMin: ratios.min() ?? 0, ratioMax: ratios.max() ?? 0,
            waitP50Milliseconds: percentile(0.5), waitP99Milliseconds: percentile(0.99))
    }

    /// Seconds for `count` one-row transactions from two writers.
    private static func transactions(_ store: IrisStore, count: Int, round: Int) async throws -> Double {
        let database = store.database
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<2 {
                group.addTask {
                    for index in stride(from: writer, to: count, by: 2) {
                        try await database.soloTransaction { db in
                            try await db.raw(
                                """
                                INSERT INTO bench_transactions (id, payload, created_at) VALUES (\(bind: round * count + index), '{}', \(bind: Clock.nowMilliseconds()))
                                """
                            ).run()
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        return (ContinuousClock.now - start).seconds
    }

    /// Seconds from the first of `count` enqueues (two producers) until the queue is empty.
    private static func jobs(_ store: IrisStore, queue: JobQueue, count: Int) async throws -> Double {
        let start = ContinuousClock.now
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
        return (ContinuousClock.now - start).seconds
    }
}

/// Interleaved measurements: the median of a list and a line that reports pairs.
enum Pairs {
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// "median 0.93× (0.88–1.01, 5 pairs)".
    public static func summary(_ ratios: [Double], format: String = "%.2f") -> String {
        let median = String(format: format, median(ratios))
        let low = String(format: format, ratios.min() ?? 0)
        let high = String(format: format, ratios.max() ?? 0)
        return "median \(median)× (\(low)–\(high), \(ratios.count) pairs)"
    }
}
