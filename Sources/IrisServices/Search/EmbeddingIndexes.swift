import Foundation
public import IrisStore
public import Logging
import NIOCore

/// One `VectorIndex` per embedding model over every image that has an embedding of it and
/// is in some project, built from the database on first use and kept up to date from the
/// change log the database's triggers write (`search_changes`): before each search, the
/// changes since the last one applied are read and each changed image's embedding and
/// memberships reloaded. Changes by any process (a worker that analysed, another server that
/// took an upload or a removal) reach every process's index this way. The same whether the
/// database is SQLite or PostgreSQL.
public actor EmbeddingIndexes {
    let store: IrisStore
    let logger: Logger
    private var indexes: [String: SharedIndex] = [:]
    /// The last change applied.
    private var cursor: Int64 = 0
    /// Recent changes already applied (by id), so reading the last `window` seconds again
    /// does not apply them twice.
    private var recent: [Int64: Date] = [:]
    /// Seconds of changes read again each time (a PostgreSQL transaction can commit a change
    /// after one with a higher id has been read).
    static let window: Double = 120
    /// Changes read per query, and at most this many queries per refresh.
    static let batch = 2000
    static let batchesPerRefresh = 50

    /// How long the last build of each model's index took, in seconds, and how many vectors.
    public private(set) var builds: [String: (seconds: Double, vectors: Int)] = [:]

    /// From this many vectors an index is clustered (IVF) and searched approximately. Exact
    /// search of 1280-d vectors on 2 threads takes a p50 of 16.5 ms at 100,000 and 163 ms at
    /// 1,000,000 (make bench's search speed step): about 35 ms, a p95 near 45, at 200,000.
    public static let approximateFrom = 200_000
    /// Lists of a clustered index: about 4,000 vectors each, from 64 to 1,024.
    static func lists(for count: Int) -> Int { min(1024, max(64, count / 4000)) }
    /// Lists searched: a sixty-fourth of them, at least 4. At 1,000,000 synthetic vectors, 4 of
    /// 256 lists gave recall@10 1.000 against exact search at a p95 of 46 ms, 8 lists 79 ms
    /// (make bench's search speed step; the exact scan's p95 was 206 ms).
    public static func probes(for lists: Int) -> Int { max(4, lists / 64) }
    /// How many vectors each index held when it was last clustered: it is clustered again when
    /// it has doubled, so the lists follow what was added.
    private var clusteredAt: [String: Int] = [:]

    public init(store: IrisStore, logger: Logger) { (self.store, self.logger) = (store, logger) }

    /// `model`'s index, up to date with the database (read it with `read`, in place).
    public func index(_ model: String) async throws -> SharedIndex {
        try await refresh()
        if let index = indexes[model] { return index }
        let index = SharedIndex(try await build(model))
        indexes[model] = index
        clusterIfLarge(model)
        return index
    }

    /// Clusters `model`'s index once it is large (again when it has doubled since).
    private func clusterIfLarge(_ model: String) {
        guard let shared = indexes[model] else { return }
        let (count, clustered) = shared.read { ($0.count, $0.clusterCount) }
        guard count >= Self.approximateFrom, clustered == 0 || count >= 2 * (clusteredAt[model] ?? 0) else { return }
        let started = ContinuousClock.now
        let lists = shared.write { index in
            index.cluster(lists: Self.lists(for: index.count), threads: System.coreCount)
            return index.clusterCount
        }
        clusteredAt[model] = count
        logger.info(
            "search index clustered for approximate search",
            metadata: [
                "model": "\(model)", "vectors": "\(count)", "lists": "\(lists)",
                "seconds": "\(ContinuousClock.now - started)",
            ])
    }

    /// Applies the changes made since the last refresh to every index built so far.
    public func refresh() async throws {
        guard !indexes.isEmpty else { return }
        if cursor > 0, let first = try await store.search.firstChange(), first > cursor + 1 {
            // Pruned past what this index applied (a process asleep for a day): start again.
            logger.info("search index is behind the change log; rebuilding")
            let models = Array(indexes.keys)
            indexes = [:]
            recent = [:]
            for model in models {
                indexes[model] = SharedIndex(try await build(model))
                clusterIfLarge(model)
            }
            return
        }
        let horizon = Date().addingTimeInterval(-Self.window)
        recent = recent.filter { $0.value > horizon }
        for _ in 0..<Self.batchesPerRefresh {
            let changes = try await store.search.changes(after: cursor, window: Self.window, limit: Self.batch)
            let fresh = changes.filter { recent[$0.id] == nil }
            guard !fresh.isEmpty else { break }
            try await apply(Array(Set(fresh.map(\.sha256))))
            let now = Date()
            for change in fresh { recent[change.id] = now }
            cursor = max(cursor, fresh.map(\.id).max() ?? cursor)
            if changes.count < Self.batch { break }
        }
        for model in indexes.keys { clusterIfLarge(model) }
    }

    /// Reloads these images' embeddings and memberships into every built index.
    private func apply(_ sha256s: [String]) async throws {
        for chunk in stride(from: 0, to: sha256s.count, by: 500).map({
            Array(sha256s[$0..<min($0 + 500, sha256s.count)])
        }) {
            let memberships = try await store.search.memberships(sha256s: chunk)
            for model in indexes.keys {
                let vectors = try await store.search.embeddings(model: model, sha256s: chunk)
                indexes[model]?.write { index in
                    for sha256 in chunk {
                        if let vector = vectors[sha256], let groups = memberships[sha256], !groups.isEmpty {
                            // A model's first vector sets its index's dimension.
                            if index.dimension == 0 { index = VectorIndex(dimension: vector.count) }
                            index.upsert(sha256, vector: vector, groups: groups)
                        } else {
                            index.remove(sha256)
                        }
                    }
                }
            }
        }
    }

    /// Loads every embedding of `model` with its images' memberships. Changes made while it
    /// loads are applied by the next refresh (the cursor is taken first; applying is idempotent).
    private func build(_ model: String) async throws -> VectorIndex {
        let started = ContinuousClock.now
        let startCursor = try await store.search.lastChange()
        if indexes.isEmpty { cursor = startCursor } else { cursor = min(cursor, startCursor) }
        var groups: [String: [Int64]] = [:]
        var after: Int64 = 0
        while true {
            let page = try await store.search.memberships(model: model, after: after, limit: 10_000)
            for row in page { groups[row.sha256, default: []].append(row.projectID) }
            guard let last = page.last, page.count == 10_000 else { break }
            after = last.id
        }
        var index: VectorIndex?
        var position: String?
        while true {
            let page = try await store.search.embeddings(model: model, after: position, limit: 2000)
            for (sha256, vector) in page {
                guard let memberOf = groups[sha256] else { continue }
                if index == nil { index = VectorIndex(dimension: vector.count) }
                index?.upsert(sha256, vector: vector, groups: memberOf)
            }
            guard let last = page.last, page.count == 2000 else { break }
            position = last.sha256
        }
        let built = index ?? VectorIndex(dimension: 0)
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        builds[model] = (seconds, built.count)
        logger.info(
            "search index built",
            metadata: [
                "model": "\(model)", "vectors": "\(built.count)", "seconds": "\(String(format: "%.2f", seconds))",
            ])
        return built
    }
}
