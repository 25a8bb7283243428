public import Foundation
public import IrisBlobs
public import IrisCore
public import IrisML
public import IrisStore

/// Iris as a Label Studio ML backend for one project: predictions for image-classification
/// tasks from the project's active trained head (when it has one) or its learner, and
/// annotations taken back as the photos' human labels through `LabelEditing` (evented,
/// undoable; the learner follows). The protocol's HTTP shape is the controller's.
public struct LabelStudioBackend: Sendable {
    public let store: IrisStore
    public let learning: LearningService
    public let labels: LabelEditing
    public let sender: WebhookSender
    public let scratch: ScratchSpace
    /// Origins whose images may be downloaded (`labelstudio.fetch_origins`).
    public let fetchOrigins: Set<String>
    /// The largest image downloaded (`upload.max_bytes`).
    public let maxBytes: Int

    public init(
        store: IrisStore, learning: LearningService, labels: LabelEditing, sender: WebhookSender,
        scratch: ScratchSpace, fetchOrigins: Set<String>, maxBytes: Int
    ) {
        (self.store, self.learning, self.labels, self.sender) = (store, learning, labels, sender)
        (self.scratch, self.fetchOrigins, self.maxBytes) = (scratch, fetchOrigins, maxBytes)
    }

    /// The most tasks one `/predict` may carry.
    public static let maxTasks = 1000

    /// A task as Label Studio sends it: its id and data (only string values are read).
    public struct Task: Sendable {
        public var id: Int64?
        public var data: [String: String]

        public init(id: Int64?, data: [String: String]) { (self.id, self.data) = (id, data) }
    }

    /// One prediction: the chosen choice and its probability.
    public struct Prediction: Sendable, Equatable {
        public var choice: String
        public var score: Double
    }

    /// What predicts: the active head (its version) or the learner.
    public enum Predictor: Sendable {
        case head(ClassifierRecord, SoftmaxRegression)
        case learner(LearnerRecord)

        /// Label Studio's `model_version`: it changes whenever the answers may.
        public var modelVersion: String {
            switch self {
            case .head(let record, _): "iris-head-v\(record.version)"
            case .learner(let record):
                "iris-learner-\(record.model)-\(Int64(record.updatedAt.timeIntervalSince1970 * 1000))"
            }
        }
    }

    /// The project's predictor: its active head, else its learner once it has a class; a 409
    /// when it has neither.
    public func predictor(for project: Project) async throws -> Predictor {
        if let active = try await learning.activeHead(projectID: project.id) {
            return .head(active.record, active.head)
        }
        try await learning.requireClasses(in: project)
        guard let record = try await store.learning.learner(projectID: project.id) else {
            throw Refusal.conflict("project \(project.name) has no learner yet")
        }
        return .learner(record)
    }

    /// Each task's prediction, in order; nil for a task Iris cannot answer (no image URL under
    /// the config's key, an image not in this project or not `readable`, a host not allowed,
    /// or a label the config has no choice for). `irisHost` is the `Host` Label Studio called
    /// Iris with, so absolute URLs of Iris's own photos are read without HTTP.
    public func predict(
        _ tasks: [Task], config: LabelStudioConfig, project: Project, irisHost: String?,
        readable: @Sendable (String) async throws -> Bool
    ) async throws -> (predictor: Predictor, predictions: [Prediction?]) {
        guard tasks.count <= Self.maxTasks else {
            throw Refusal.invalid("tasks may hold at most \(Self.maxTasks) tasks, not \(tasks.count)", field: "tasks")
        }
        let predictor = try await predictor(for: project)
        var predictions: [Prediction?] = []
        for task in tasks {
            guard let text = task.data[config.dataKey],
                let image = LabelStudioTask.image(text, irisHost: irisHost)
            else {
                predictions.append(nil)
                continue
            }
            let ranked: [(label: String, score: Double)]
            do {
                ranked = try await self.ranked(image, by: predictor, project: project, readable: readable)
            } catch is Refusal {
                // One task's image refused (not here, not allowed, unreadable): no prediction for it.
                predictions.append(nil)
                continue
            }
            let answer = ranked.lazy.compactMap { ranked in config.choice(for: ranked.label).map { ($0, ranked.score) }
            }
            .first
            predictions.append(answer.map { Prediction(choice: $0.0, score: $0.1) })
        }
        return (predictor, predictions)
    }

    /// The predictor's labels for one image, best first, with their probabilities. The
    /// learner's `unknown` answer gives no label.
    func ranked(
        _ image: LabelStudioImage, by predictor: Predictor, project: Project,
        readable: @Sendable (String) async throws -> Bool
    ) async throws -> [(label: String, score: Double)] {
        let model: String =
            switch predictor {
            case .head(let record, _): record.model
            case .learner(let record): record.model
            }
        let vector: [Float]
        switch image {
        case .iris(let sha256):
            guard try await store.images.member(sha256: sha256, of: project.id) != nil, try await readable(sha256)
            else {
                throw Refusal.notFound("project \(project.name) has no image \(sha256)")
            }
            vector = try await learning.embedding(sha256: sha256, model: model)
        case .remote(let url):
            guard let origin = LabelStudioTask.origin(of: url), fetchOrigins.contains(origin) else {
                throw Refusal.forbidden(
                    "\(url.host ?? "the image's host") is not in labelstudio.fetch_origins", field: "tasks")
            }
            let file = scratch.newFileURL(suffix: ".labelstudio")
            defer { try? FileManager.default.removeItem(at: file) }
            do {
                try await sender.download(url.absoluteString, limit: maxBytes).write(to: file)
                vector = try await learning.embedding(path: file.path, model: model)
            } catch {
                // Refused by the guard, unreachable, too large or not an image: this task's alone.
                throw Refusal.unprocessable(
                    "unreadable-image", "the image at \(url.host ?? "its host") could not be read: \(error)",
                    field: "tasks")
            }
        }
        switch predictor {
        case .head(_, let head):
            return head.ranked(vector).map { ($0.label, $0.probability) }
        case .learner:
            let answer = try await learning.classify(projectID: project.id, vectors: [vector])[0]
            guard let label = answer.label else { return [] }
            return [(label, answer.confidence)]
        }
    }

    /// What an annotation event did.
    public enum Applied: Sendable, Equatable {
        /// The photo's human labels are now `labels` (`operation` nil when they already were).
        case labelled(sha256: String, labels: [String], operation: Int64?)
        /// Nothing to do: a skipped (cancelled) annotation.
        case skipped(String)
    }

    /// An annotation created or updated in Label Studio: its choices become the photo's human
    /// labels. `choices` are the annotation's `choices` values; `data` the task's data, whose
    /// value under `dataKey` (or, without a config, its only Iris image URL) names the photo.
    public func annotate(
        choices: [String], cancelled: Bool, data: [String: String], dataKey: String?, project: Project,
        irisHost: String?, by caller: Caller
    ) async throws -> Applied {
        if cancelled { return .skipped("the annotation was skipped in Label Studio") }
        let sha256 = try photo(in: data, dataKey: dataKey, irisHost: irisHost)
        guard try await store.images.member(sha256: sha256, of: project.id) != nil else {
            throw Refusal.unprocessable(
                "not-in-project",
                "project \(project.name) has no image \(sha256): Iris takes labels only for its own photos; upload it first",
                field: "task")
        }
        let names = try Self.labels(for: choices, in: project)
        let (member, outcome) = try await labels.set(names, on: sha256, in: project, ifVersion: nil, by: caller)
        return .labelled(sha256: sha256, labels: member.labels.map(\.name), operation: outcome.operation)
    }

    /// The Iris photo a task names.
    func photo(in data: [String: String], dataKey: String?, irisHost: String?) throws -> String {
        if let dataKey {
            guard let text = data[dataKey] else {
                throw Refusal.invalid("the task's data has no \"\(dataKey)\" (the config's image)", field: "task")
            }
            guard case .iris(let sha256) = LabelStudioTask.image(text, irisHost: irisHost) else {
                throw Refusal.unprocessable(
                    "not-an-iris-image",
                    "the task's image is not an Iris image URL (…/api/v1/images/{sha256}/original on this server): Iris takes labels only for its own photos",
                    field: "task")
            }
            return sha256
        }
        let found = Set(
            data.values.compactMap { text -> String? in
                if case .iris(let sha256) = LabelStudioTask.image(text, irisHost: irisHost) { return sha256 }
                return nil
            })
        guard found.count == 1, let sha256 = found.first else {
            throw Refusal.unprocessable(
                "not-an-iris-image",
                found.isEmpty
                    ? "the task's data holds no Iris image URL (…/api/v1/images/{sha256}/original on this server)"
                    : "the task's data names \(found.count) Iris photos; the project's label config must say which is labelled",
                field: "task")
        }
        return sha256
    }

    /// Label Studio's choices as the project's labels: the label of the same name, else of the
    /// same name in another case; a 422 listing the choices the label set lacks. Without a
    /// label set the choices are the labels.
    public static func labels(for choices: [String], in project: Project) throws -> [String] {
        guard let set = project.labelSet else { return choices }
        var names: [String] = []
        var unknown: [String] = []
        for choice in choices {
            if let name = set.first(where: { $0 == choice })
                ?? set.first(where: { $0.lowercased() == choice.lowercased() })
            {
                names.append(name)
            } else {
                unknown.append(choice)
            }
        }
        guard unknown.isEmpty else {
            throw Refusal.unprocessable(
                "unknown-label",
                "\(unknown.map { "\"\($0.prefix(60))\"" }.joined(separator: ", ")) \(unknown.count == 1 ? "is" : "are") not in project \(project.name)'s label set: \(set.joined(separator: ", "))",
                field: "annotation")
        }
        return names
    }
}
