import Foundation
public import IrisBlobs
public import IrisCore
public import IrisML
public import IrisStore
import Logging

/// `embeddings.backfill`: embeds every stored photo that has no result from one image model
/// yet, with progress: what a vision–language model (CLIP, `embed-image`) dropped into the
/// models folder needs before search and similar photos can use it for photos stored earlier.
/// New photos get it from their upload's own analysis (such a model is automatic). Queued at
/// start when photos lack it (`IrisSystem.prepareModels`); `iris jobs enqueue` can queue it too.
public struct EmbeddingBackfillJob: JobHandler {
    public static let kind = "embeddings.backfill"

    public init(store: IrisStore, blobs: any BlobStore, models: ModelRegistry, learning: LearningService? = nil) {
        (self.store, self.blobs, self.models, self.learning) = (store, blobs, models, learning)
    }

    public let store: IrisStore
    public let blobs: any BlobStore
    public let models: ModelRegistry
    public var learning: LearningService?

    public struct Payload: Codable, Sendable {
        public init(model: String) { self.model = model }
        public var model: String
    }

    public struct Output: Encodable, Sendable {
        public var model: String
        /// Photos that had no result from the model when the job began.
        public var missing: Int
        public var embedded: Int
        /// Photos that could not be embedded (gone meanwhile, or the model refused them).
        public var failed: Int
    }

    /// Photos read per query while looking for those without the model's result.
    static let page = 500

    /// One backfill per model and per number of photos it lacks: a second start with the same
    /// work to do reuses the job; new photos make new work.
    public static func request(model: String, missing: Int) throws -> JobRequest {
        try JobRequest(
            kind: kind, encoding: Payload(model: model), queue: JobSettings.Queue.ml,
            idempotencyKey: "backfill:\(model):\(missing)", projectID: nil)
    }

    public func validate(_ payload: Payload) throws {
        guard let model = models.model(payload.model), model.manifest.embeds, model.analyses else {
            let choices = models.available.filter { $0.manifest.embeds && $0.analyses }.map(\.name).sorted()
            throw Refusal.invalid(
                "no image embedding model named \(payload.model) is available (available: \(choices.isEmpty ? "none" : choices.joined(separator: ", ")))",
                field: "payload.model")
        }
    }

    /// The stored photos without a result from `model`, oldest hash order, a page at a time.
    public static func missing(model: String, store: IrisStore) async throws -> [String] {
        var missing: [String] = []
        var cursor: String?
        while true {
            let page = try await store.images.page(after: cursor, limit: Self.page)
            guard let last = page.last else { break }
            let sha256s = Array(Set(page.map(\.sha256)))
            let analysed = try await store.analyses.analysed(sha256s: sha256s)
            missing += sha256s.filter { !analysed.contains("\($0):\(model)") }.sorted()
            cursor = last.sha256
        }
        return missing
    }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard let model = models.model(payload.model), model.manifest.embeds, model.analyses else {
            throw PermanentJobFailure(
                "model \(payload.model) is not available to embed photos (see GET /api/v1/models)")
        }
        context.report(progress: 0, message: "looking for photos without \(model.name)")
        let missing = try await Self.missing(model: model.name, store: store)
        var (embedded, failed) = (0, 0)
        for (index, sha256) in missing.enumerated() {
            try context.checkCancellation()
            do {
                if let path = try await blobs.localFile(for: .original(sha256)),
                    FileManager.default.fileExists(atPath: path)
                {
                    let output = try await model.analyze(path: path)
                    if try await AnalysisJob.save(output, model: model.name, sha256: sha256, store: store) {
                        embedded += 1
                        if let vector = output.embedding {
                            try await learning?.embedded(sha256: sha256, vector: vector, model: model.name)
                        }
                    } else {
                        failed += 1
                    }
                } else {
                    failed += 1
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                // One photo the model cannot read does not stop the others.
                failed += 1
                AnalysisJob.logger.warning(
                    "backfill could not embed a photo",
                    metadata: ["model": "\(model.name)", "sha256": "\(sha256)", "error": "\(error)"])
            }
            context.report(
                progress: Double(index + 1) / Double(missing.count),
                message: "embedded \(index + 1) of \(missing.count) photos with \(model.name)")
        }
        return Output(model: model.name, missing: missing.count, embedded: embedded, failed: failed)
    }
}
