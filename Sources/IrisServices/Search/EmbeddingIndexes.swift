import Foundation
public import IrisStore
public import Logging

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
    private var indexes: [String: VectorIndex] = [:]
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

    public init(store: IrisStore, logger: Logger) { (self.store, self.logger) = (store, logger) }

    /// `model`'s index, up to date with the database.
    public func index(_ model: String) async throws -> VectorIndex {
        try await refresh()
        if let index = indexes[model] { return index }
        let index = try await build(model)
        indexes[model] = index
        return index
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
            for model in models { indexes[model] = try await build(model) }
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
    }

    /// Reloads these images' embeddings and memberships into every built index.
    private func apply(_ sha256s: [String]) async throws {
        for chunk in stride(from: 0, to: sha256s.count, by: 500).map({
            Array(sha256s[$0..<min($0 + 500, sha256s.count)])
        }) {
            let memberships = try await store.search.memberships(sha256s: chunk)
            for model in indexes.keys {
                let vectors = try await store.search.embeddings(model: model, sha256s: chunk)
                for sha256 in chunk {
                    if let vector = vectors[sha256], let groups = memberships[sha256], !groups.isEmpty {
                        // A model's first vector sets its index's dimension.
                        if indexes[model]?.dimension == 0 { indexes[model] = VectorIndex(dimension: vector.count) }
                        indexes[model]?.upsert(sha256, vector: vector, groups: groups)
                    } else {
                        indexes[model]?.remove(sha256)
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
