import Foundation
import IrisCore
public import IrisML
public import IrisStore

/// "Similar photos": the images nearest one image by an embedding model's vectors, among
/// the projects a caller may see, leaving out what is hidden from them (flagged images in
/// projects where they are a viewer or contributor). Exact search over `EmbeddingIndexes`.
public struct SimilarImages: Sendable {
    public let indexes: EmbeddingIndexes
    let store: IrisStore
    let models: ModelRegistry
    /// The server's `moderation.threshold`, for projects without their own.
    let moderationThreshold: Double

    public init(indexes: EmbeddingIndexes, store: IrisStore, models: ModelRegistry, moderationThreshold: Double) {
        (self.indexes, self.store, self.models) = (indexes, store, models)
        self.moderationThreshold = moderationThreshold
    }

    /// The installed models that make embeddings: a vision–language model's image side
    /// first (CLIP's space knows what a photo shows), then the derived semantic models (a
    /// photo's neighbours by them are more often of its kind than by the plain embedding at
    /// every cut-off: docs/MODELS.md), then the others, by name.
    public var embedders: [String] {
        models.available.filter { $0.manifest.embeds }
            .map { model -> (Int, String) in
                let rank = model.manifest.tasks.contains(.embedImage) ? 0 : model.manifest.derived != nil ? 1 : 2
                return (rank, model.name)
            }
            .sorted { $0 < $1 }.map { $0.1 }
    }

    /// The installed `embed` models, by name, leaving out a vision–language model's image side
    /// and the derived models: the duplicates' check, whose cosine of 0.95 was measured on
    /// MobileNetV2's vectors.
    public var plainEmbedders: [String] {
        models.available.filter { $0.manifest.tasks.contains(.embed) && $0.manifest.derived == nil }.map(\.name)
            .sorted()
    }

    public struct Answer: Sendable {
        /// The model whose vectors were compared; nil when the image has no embedding yet.
        public var model: String?
        public var hits: [VectorIndex.Hit]
        /// The model's cosine below which a photo is not called similar (its manifest's `similar_above`).
        public var similarAbove: Double?
    }

    /// Up to `limit` images nearest `sha256` by `model` (nil: the first embedding model, by
    /// name, the image has a vector from) in `allowed` projects (nil: all), hiding flagged
    /// images in every allowed project not in `seesFlagged` (nil: the caller sees them all).
    public func similar(
        to sha256: String, model requested: String?, in allowed: Set<Int64>?, seesFlagged: Set<Int64>?, limit: Int
    ) async throws -> Answer {
        for model in requested.map({ [$0] }) ?? embedders {
            let index = try await indexes.index(model)
            var query = index.read { $0.vector(for: sha256) }
            if query == nil { query = try await store.analyses.embedding(sha256: sha256, model: model)?.vector }
            guard let query else { continue }
            var hidden: [Int64: Set<String>] = [:]
            if let seesFlagged, let allowed {
                let guarded = allowed.subtracting(seesFlagged)
                for (image, project) in try await store.search.hidden(
                    in: guarded.sorted(), defaultThreshold: moderationThreshold)
                {
                    hidden[project, default: []].insert(image)
                }
            }
            // Approximate once the index is clustered (large); exact scans use two threads.
            let hits = index.read { index in
                let probes = index.clusterCount > 0 ? EmbeddingIndexes.probes(for: index.clusterCount) : nil
                return index.nearest(
                    to: query, k: limit, in: allowed, excluding: [sha256], hidden: hidden, probes: probes, threads: 2)
            }
            return Answer(model: model, hits: hits, similarAbove: models.model(model)?.manifest.similarAbove)
        }
        return Answer(model: nil, hits: [])
    }
}
