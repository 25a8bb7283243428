import Foundation
import IrisCore
public import IrisServices
import IrisStore
import SQLKit

/// `iris label-bench`: a bulk relabel of `photos` photos (every `robin` becomes a `sparrow`)
/// and its undo, while another writer keeps appending events, one small transaction at a
/// time. Reports how long the change and the undo took and how long the other writer's
/// writes took meanwhile, against the same writer's writes with nothing else running
/// (measured first, in the same run). `make bench` runs it on SQLite and PostgreSQL.
public enum LabelBenchmark {
    public struct Report: Codable, Sendable {
        public var database: String
        public var photos: Int
        public var changed: Int
        /// Photos a write transaction of the change (nil: the whole change in one).
        public var chunkSize: Int?
        public var bulkSeconds: Double
        public var undoSeconds: Double
        /// The other writer alone: its median and longest write.
        public var baselineWriteP50Milliseconds: Double
        public var baselineWriteMaxMilliseconds: Double
        /// The other writer while the change and the undo ran: how many writes it made, its
        /// median and its longest (the longest any write waited for the bulk change).
        public var concurrentWrites: Int
        public var concurrentWriteP50Milliseconds: Double
        public var concurrentWriteMaxMilliseconds: Double
        /// The other writer's longest write while the change ran, and while the undo ran.
        public var changeWriteMaxMilliseconds: Double
        public var undoWriteMaxMilliseconds: Double
    }

    /// `chunk`: photos a write transaction of the change (0: one transaction; nil: the
    /// database's default).
    public static func run(_ settings: IrisSettings, photos: Int, chunk: Int? = nil) async throws -> Report {
        let logger = settings.makeLogger()
        let store = try await IrisStore.open(settings.database, poolSize: settings.poolSize, logger: logger)
        do {
            let report = try await measure(store, photos: photos, chunk: chunk)
            await store.database.shutdown()
            return report
        } catch {
            await store.database.shutdown()
            throw error
        }
    }

    /// A writer that appends one event per transaction until stopped, timing each.
    final class Writer: @unchecked Sendable {
        private let lock = NSLock()
        private var stopped = false
        var isStopped: Bool { lock.withLock { stopped } }
        func stop() { lock.withLock { stopped = true } }

        /// Whether the writes now are during the change (else during the undo).
        private var changing = true
        private(set) var changeMax: Double = 0
        private(set) var undoMax: Double = 0
        func undoing() { lock.withLock { changing = false } }

        func run(_ store: IrisStore) async throws -> [Double] {
            var times: [Double] = []
            while !isStopped {
                let start = ContinuousClock.now
                let during = lock.withLock { changing }
                try await store.events.append(
                    Event(actorKind: "system", actorID: nil, actorName: "label bench", action: "bench.write"))
                let took = (ContinuousClock.now - start) / .milliseconds(1)
                times.append(took)
                lock.withLock {
                    if during { changeMax = max(changeMax, took) } else { undoMax = max(undoMax, took) }
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            return times
        }
    }

    static func measure(_ store: IrisStore, photos: Int, chunk: Int?) async throws -> Report {
        let labels: any LabelRepository =
            chunk.map { SQLLabelRepository(database: store.database, chunkSize: $0) } ?? store.labels
        let chunkSize = chunk ?? (store.database.dialect == .sqlite ? SQLLabelRepository.sqliteChunk : 0)
        let project = try await store.projects.create(
            name: "label bench \(UUID().uuidString.prefix(8))", description: "", labelSet: ["robin", "sparrow"],
            owner: nil)
        // The photos, written directly (what an upload would store), 500 rows a statement.
        let now = Clock.nowMilliseconds()
        for start in stride(from: 0, to: photos, by: 500) {
            let hashes = (start..<min(start + 500, photos)).map { index in
                String(format: "%064x", index + Int(project.id) * 10_000_000)
            }
            try await store.database.transaction { db in
                for (table, columns) in [
                    ("images", "(sha256, format, width, height, bytes, created_at)"),
                    ("project_images", "(project_id, sha256, added_at)"),
                    ("labels", "(project_id, sha256, name, source, created_at)"),
                ] {
                    var query: SQLQueryString = "INSERT INTO \(unsafeRaw: table) \(unsafeRaw: columns) VALUES "
                    for (index, sha256) in hashes.enumerated() {
                        query += index == 0 ? "" : ","
                        switch table {
                        case "images": query += "(\(bind: sha256), 'jpeg', 64, 48, 1000, \(bind: now))"
                        case "project_images": query += "(\(bind: project.id), \(bind: sha256), \(bind: now))"
                        default: query += "(\(bind: project.id), \(bind: sha256), 'robin', 'human', \(bind: now))"
                        }
                    }
                    try await db.raw(query).run()
                }
            }
        }
        let actor = AuditLog.template(as: .system("label bench"), .labelChanged)
        // The other writer alone, for a second.
        let alone = Writer()
        async let aloneTimes = alone.run(store)
        try await Task.sleep(for: .seconds(1))
        alone.stop()
        let baseline = try await aloneTimes.sorted()
        // Then while the change and its undo run.
        let writer = Writer()
        async let times = writer.run(store)
        try await Task.sleep(for: .milliseconds(200))
        let clock = ContinuousClock()
        var outcome = LabelOutcome(operation: nil, changed: 0)
        let bulk = try await clock.measure {
            outcome = try await labels.change(
                .filter(LabelFilter(label: "robin")), in: project.id, add: ["sparrow"], remove: ["robin"],
                recording: actor)
        }
        writer.undoing()
        let undo = try await clock.measure {
            _ = try await labels.undo(outcome.operation ?? 0, in: project.id, recording: actor)
        }
        try await Task.sleep(for: .milliseconds(200))
        writer.stop()
        let concurrent = try await times.sorted()
        func median(_ sorted: [Double]) -> Double { sorted.isEmpty ? 0 : sorted[sorted.count / 2] }
        return Report(
            database: store.database.dialect == .sqlite ? "sqlite" : "postgres", photos: photos,
            changed: outcome.changed, chunkSize: chunkSize > 0 ? chunkSize : nil, bulkSeconds: bulk / .seconds(1),
            undoSeconds: undo / .seconds(1),
            baselineWriteP50Milliseconds: median(baseline), baselineWriteMaxMilliseconds: baseline.last ?? 0,
            concurrentWrites: concurrent.count, concurrentWriteP50Milliseconds: median(concurrent),
            concurrentWriteMaxMilliseconds: concurrent.last ?? 0, changeWriteMaxMilliseconds: writer.changeMax,
            undoWriteMaxMilliseconds: writer.undoMax)
    }
}
