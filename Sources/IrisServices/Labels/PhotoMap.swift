public import Foundation
public import IrisCore
import IrisML
public import IrisStore

/// A project's photos as a map: a 2-D layout of their embeddings (`MapLayout`: PCA, then a
/// UMAP written here), with what each point is coloured by — its labels and review state
/// (read fresh with every request), the learner's answer when the layout was made, and the
/// label check's verdict.
///
/// The layout is kept (`project_reports`, kind `map`) with the fingerprint of the photos and
/// embeddings it was made from: label edits do not move points, so they never make it stale;
/// new or removed photos do, and a `map.layout` job makes the next while the kept one is
/// answered. A project without one gets it at once when small, by the job otherwise.
public struct PhotoMap: Sendable {
    public let store: IrisStore
    public let learning: LearningService
    public let queue: JobQueue

    public init(store: IrisStore, learning: LearningService, queue: JobQueue) {
        (self.store, self.learning, self.queue) = (store, learning, queue)
    }

    public static let kind = "map"
    /// Photos laid out while the request waits when a project has no map yet.
    public static let inlineMembers = 2_000
    public static let maxPhotos = 50_000

    /// The kept layout: points in [0, 1]², in the order of `sha256s`.
    public struct Layout: Sendable, Codable, Equatable {
        public var computedAt: Date
        public var model: String
        public var sha256s: [String]
        public var x: [Float]
        public var y: [Float]
        /// The learner's classes then, and each point's answer (an index; -1: unknown or none).
        public var classes: [String]
        public var answers: [Int]
        public var seconds: Double
    }

    public struct Current: Sendable {
        public var layout: Layout?
        public var stale: Bool
        public var job: Job?
    }

    public func current(projectID: Int64) async throws -> Current {
        let model = try await learning.learnerModel(projectID: projectID)
        let fingerprint = try await store.reports.fingerprint(projectID: projectID, model: model)
        let kept = try await store.reports.load(projectID: projectID, kind: Self.kind)
        let layout = try kept.map { try IrisJSON.makeDecoder().decode(Layout.self, from: Data($0.body.utf8)) }
        if let kept, let layout, kept.fingerprint == fingerprint.photos {
            return Current(layout: layout, stale: false, job: nil)
        }
        if layout == nil, fingerprint.members <= Self.inlineMembers {
            return Current(layout: try await refresh(projectID: projectID), stale: false, job: nil)
        }
        let job = try await queue.enqueue(
            try MapLayoutJob.request(
                projectID: projectID, idempotencyKey: "\(Self.kind):\(projectID):\(fingerprint.photos)")
        ).job
        return Current(layout: layout, stale: layout != nil, job: job)
    }

    /// Lays the project's photos out (those with an embedding by the learner's model) and keeps it.
    @discardableResult
    public func refresh(projectID: Int64, progress: @escaping @Sendable (Double, String) -> Void = { _, _ in })
        async throws -> Layout
    {
        let model = try await learning.learnerModel(projectID: projectID)
        let fingerprint = try await store.reports.fingerprint(projectID: projectID, model: model)
        let started = Date()
        let members = try await store.reports.memberLabels(projectID: projectID).suffix(Self.maxPhotos)
        var sha256s: [String] = []
        var features: [[Float]] = []
        let all = Array(members.map(\.sha256))
        for start in stride(from: 0, to: all.count, by: 500) {
            try Task.checkCancellation()
            let chunk = Array(all[start..<min(start + 500, all.count)])
            let vectors = try await store.search.embeddings(model: model, sha256s: chunk)
            for sha256 in chunk {
                guard let vector = vectors[sha256], vector.count == (features.first?.count ?? vector.count) else {
                    continue
                }
                sha256s.append(sha256)
                features.append(LabelCheck.normalised(vector))
            }
            progress(0.1 * Double(start + chunk.count) / Double(max(all.count, 1)), "read embeddings")
        }
        let points = try MapLayout.layout(
            features, progress: { progress(0.1 + 0.8 * $0, "laying out \(features.count) photos") },
            isCancelled: { Task.isCancelled })
        var classes: [String] = []
        var answers = features.map { _ in -1 }
        if let record = try await store.learning.learner(projectID: projectID), record.classCount > 0,
            record.dimension == features.first?.count
        {
            progress(0.9, "asking the learner")
            var index: [String: Int] = [:]
            for start in stride(from: 0, to: features.count, by: 1000) {
                let chunk = Array(features[start..<min(start + 1000, features.count)])
                for (offset, answer) in try await learning.classify(projectID: projectID, vectors: chunk).enumerated() {
                    guard let label = answer.label else { continue }
                    if index[label] == nil {
                        index[label] = classes.count
                        classes.append(label)
                    }
                    answers[start + offset] = index[label] ?? -1
                }
            }
        }
        let layout = Layout(
            computedAt: Date(), model: model, sha256s: sha256s, x: points.map(\.x), y: points.map(\.y),
            classes: classes, answers: answers, seconds: Date().timeIntervalSince(started))
        let body = String(decoding: try IrisJSON.makeEncoder().encode(layout), as: UTF8.self)
        try await store.reports.save(
            StoredReport(fingerprint: fingerprint.photos, computedAt: layout.computedAt, body: body),
            projectID: projectID, kind: Self.kind)
        return layout
    }
}

/// `map.layout`: lays out a project's photos for its map (`PhotoMap`) and keeps the layout.
public struct MapLayoutJob: JobHandler {
    public static let kind = "map.layout"

    public struct Payload: Codable, Sendable {
        public var projectId: Int64
        public enum CodingKeys: String, CodingKey { case projectId = "project_id" }
    }

    public struct Output: Encodable, Sendable {
        public var photos: Int
        public var seconds: Double
    }

    public let map: PhotoMap

    public init(map: PhotoMap) { self.map = map }

    public static func request(projectID: Int64, idempotencyKey: String? = nil) throws -> JobRequest {
        var request = try JobRequest(
            kind: kind, encoding: Payload(projectId: projectID), queue: JobSettings.Queue.ml, projectID: projectID)
        request.idempotencyKey = idempotencyKey
        return request
    }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        let layout = try await map.refresh(projectID: payload.projectId) { fraction, message in
            context.report(progress: fraction, message: message)
        }
        return Output(photos: layout.sha256s.count, seconds: layout.seconds)
    }
}
