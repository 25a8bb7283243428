public import Foundation
public import IrisCore
import IrisML
public import IrisStore

/// A project's photos as a map: a 2-D layout of their embeddings (`MapLayout`: PCA, then a
/// UMAP written here), with what each point is coloured by — its labels and review state
/// (read fresh with every request), the learner's answer when the layout was made, and the
/// label check's verdict.
///
/// The layout is kept (`ProjectReport`, kind `map`) under the fingerprint of the photos and
/// embeddings it was made from: label edits do not move points, so they never make it stale;
/// new or removed photos do.
public struct PhotoMap: ProjectReport {
    public let store: IrisStore
    public let learning: LearningService
    public let queue: JobQueue
    public let decoded = DecodedReports<Layout>()

    public init(store: IrisStore, learning: LearningService, queue: JobQueue) {
        (self.store, self.learning, self.queue) = (store, learning, queue)
    }

    public static let kind = "map"
    public static let maxPhotos = 50_000

    /// The kept layout: points in [0, 1]², in the order of `sha256s`.
    public struct Layout: ReportBody, Equatable {
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

    public static func key(_ fingerprint: ReportFingerprint) -> String { fingerprint.photos }

    /// Lays the project's photos out (those with an embedding by the learner's model).
    public func compute(projectID: Int64, model: String, progress: @escaping @Sendable (Double, String) -> Void)
        async throws -> Layout
    {
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
        return Layout(
            computedAt: Date(), model: model, sha256s: sha256s, x: points.map(\.x), y: points.map(\.y),
            classes: classes, answers: answers, seconds: Date().timeIntervalSince(started))
    }
}
