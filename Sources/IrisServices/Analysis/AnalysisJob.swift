import Foundation
public import IrisBlobs
public import IrisCore
public import IrisML
public import IrisStore
public import Logging

/// `image.analyze`: runs one model on one stored image and keeps the result. One job per
/// (image, model): its idempotency key makes a repeated request reuse the job and result.
public struct AnalysisJob: JobHandler {
    public init(store: IrisStore, blobs: any BlobStore, models: ModelRegistry, learning: LearningService? = nil) {
        self.store = store
        self.blobs = blobs
        self.models = models
        self.learning = learning
    }

    public static let kind = "image.analyze"

    public struct Payload: Codable, Sendable {
        public init(sha256: String, model: String) {
            self.sha256 = sha256
            self.model = model
        }

        public var sha256: String
        public var model: String
    }

    /// What the job's own record says; the full result is in `analyses` (see `/api/v1/analyses/{sha256}`).
    public struct Output: Encodable, Sendable {
        public init(
            model: String, labels: [ScoredLabel]? = nil, embeddingDimension: Int? = nil, moderation: Double? = nil,
            textLines: Int? = nil, skipped: String? = nil
        ) {
            self.model = model
            self.labels = labels
            self.embeddingDimension = embeddingDimension
            self.moderation = moderation
            self.textLines = textLines
            self.skipped = skipped
        }

        public var model: String
        public var labels: [ScoredLabel]?
        public var embeddingDimension: Int?
        public var moderation: Double?
        public var textLines: Int?
        public var skipped: String?

        public enum CodingKeys: String, CodingKey {
            case model, labels, moderation, skipped
            case embeddingDimension = "embedding_dimension"
            case textLines = "text_lines"
        }
    }

    public let store: IrisStore
    public let blobs: any BlobStore
    public let models: ModelRegistry
    public var learning: LearningService?

    public static let logger = Logger(label: "iris.models")

    public static func key(sha256: String, model: String) -> String { "analyze:\(sha256):\(model)" }

    public static func request(sha256: String, model: String, projectID: Int64?, priority: Int = 0) throws -> JobRequest
    {
        try JobRequest(
            kind: kind, encoding: Payload(sha256: sha256, model: model), queue: JobSettings.Queue.ml,
            priority: priority,
            idempotencyKey: key(sha256: sha256, model: model), projectID: projectID)
    }

    public func validate(_ payload: Payload) throws {
        try ImageRecord.checkSHA256(payload.sha256, field: "payload.sha256")
        guard let model = models.model(payload.model) else {
            throw Refusal.invalid("no model named \(payload.model) is available", field: "payload.model")
        }
        guard model.analyses else {
            throw Refusal.invalid("\(payload.model) repairs photos; it does not analyse them", field: "payload.model")
        }
    }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard let model = try await models.model(payload.model, orSyncFrom: store, logger: Self.logger) else {
            throw PermanentJobFailure(
                "model \(payload.model) is not available: it is neither in the models folder nor registered (it may have been removed)"
            )
        }
        guard try await store.images.find(sha256: payload.sha256) != nil,
            let path = try await blobs.localFile(for: .original(payload.sha256)),
            FileManager.default.fileExists(atPath: path)
        else {
            return Output(model: model.name, skipped: "no stored image has this sha256 any more")
        }
        // An embedding alone is not an analysis: the result (labels, moderation) must be there
        // too, or the cleanup sweep's requeued job would "succeed" without restoring it.
        if model.manifest.embeds,
            let stored = try await store.analyses.embedding(sha256: payload.sha256, model: model.name),
            try await store.analyses.list(sha256: payload.sha256).contains(where: { $0.model == model.name })
        {
            // Embedded already (a learner class was made from it): the result stands; only memberships may be new.
            try await learning?.embedded(sha256: payload.sha256, vector: stored.vector, model: model.name)
            return Output(
                model: model.name, embeddingDimension: stored.vector.count,
                skipped: "already analysed with \(model.name)")
        }
        context.report(progress: 0.1, message: "running \(model.name)")
        let output = try await model.analyze(path: path)
        try context.checkCancellation()
        let saved = try await Self.save(output, model: model.name, sha256: payload.sha256, store: store)
        if saved {
            // The models derived from this one's outputs are made now, from the same run.
            for derived in models.derived(from: model.name) {
                guard let vector = try derived.derive(from: output) else { continue }
                _ = try await Self.save(
                    ModelOutput(embedding: vector), model: derived.name, sha256: payload.sha256, store: store)
            }
        }
        if saved, let embedding = output.embedding {
            // Human-labelled images join their learner classes as soon as they have an embedding.
            try await learning?.embedded(sha256: payload.sha256, vector: embedding, model: model.name)
        }
        guard saved else { return Output(model: model.name, skipped: "the image was deleted while it was analysed") }
        return Output(
            model: model.name, labels: output.labels, embeddingDimension: output.embedding?.count,
            moderation: output.moderation,
            textLines: output.text?.count)
    }
}

extension AnalysisJob {
    /// Keeps one model's output on an image: the typed result, its top labels, embedding and moderation score.
    public static func save(_ output: ModelOutput, model: String, sha256: String, store: IrisStore) async throws -> Bool
    {
        var stored = output
        stored.embedding = nil
        let result = String(
            decoding: try IrisJSON.makeEncoder().encode(
                StoredResult(output: stored, embeddingDimension: output.embedding?.count)), as: UTF8.self)
        return try await store.analyses.save(
            Analysis(sha256: sha256, model: model, result: result, createdAt: Date()),
            labels: (output.labels ?? []).map { ($0.label, $0.score) }, embedding: output.embedding,
            moderation: output.moderation)
    }
}

/// The JSON kept in `analyses.result`: the model's output without the vector itself.
public struct StoredResult: Codable, Sendable {
    public var output: ModelOutput
    public var embeddingDimension: Int?

    public func encode(to encoder: any Encoder) throws {
        try output.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(embeddingDimension, forKey: .embeddingDimension)
    }

    public init(output: ModelOutput, embeddingDimension: Int?) {
        self.output = output
        self.embeddingDimension = embeddingDimension
    }

    public init(from decoder: any Decoder) throws {
        output = try ModelOutput(from: decoder)
        embeddingDimension = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(
            Int.self, forKey: .embeddingDimension)
    }

    public enum CodingKeys: String, CodingKey { case embeddingDimension = "embedding_dimension" }
}
