import Foundation
public import IrisCore
public import IrisML
import IrisStore

/// What the learning routes ask for, decided here so the controller only translates HTTP:
/// a class made from a label, the learner in figures and words, and the jobs that train,
/// test and consolidate (checked before they are queued).
extension LearningService {
    /// Adds a class made from the project's photos with the human label `label` (default:
    /// the class's name): 409 when the class exists, 400 naming `from_label` when no photo has it.
    public func addClass(to project: Project, name: String, fromLabel label: String?) async throws -> AddedClass {
        try await refuseExisting(name, projectID: project.id)
        let label = label ?? name
        let sha256s = try await store.learning.labelledSHA256s(projectID: project.id, label: label)
        guard !sha256s.isEmpty else {
            throw Refusal.invalid(
                "project \(project.name) has no image labelled \"\(label)\" to make the class from",
                field: "from_label")
        }
        return try await addClass(projectID: project.id, name: name, sha256s: sha256s)
    }

    /// The learner as its page and `GET …/learner` show it: its classes with their examples,
    /// the one threshold, and each class in words (from the latest learner test where there is one).
    public struct Summary: Sendable {
        public var model: String
        public var rules: IncrementalLearner.Thresholds
        /// Nil while the project has no learner.
        public var record: LearnerRecord?
        public var classes: [LearnerClassRecord]
        public var learner: IncrementalLearner?
        public var examples: [String: [String]]
        public var threshold: Double
        public var words: [String: ModelInWords.ClassWords]
    }

    public func summary(of project: Project) async throws -> Summary {
        let rules = try await rules(projectID: project.id)
        let model = try await chosenModel(projectID: project.id)
        guard let record = try await store.learning.learner(projectID: project.id) else {
            return Summary(
                model: model, rules: rules, record: nil, classes: [], learner: nil, examples: [:], threshold: 0,
                words: [:])
        }
        let classes = try await store.learning.classes(projectID: project.id, names: nil)
        let learner = Self.learner(record, classes)
        let examples = try await store.learning.examples(projectID: project.id, perClass: 4)
        // One threshold for every class: computed once, not once per class.
        let threshold = learner.threshold(rules: rules)
        let latestTest = try await store.learning.evaluations(projectID: project.id, limit: 20).lazy
            .compactMap { try? JSONDecoder().decode(EvaluationBody.self, from: Data($0.report.utf8)) }
            .first { $0.target == .learner }
        return Summary(
            model: model, rules: rules, record: record, classes: classes, learner: learner, examples: examples,
            threshold: threshold,
            words: ModelInWords.classWords(learner, threshold: threshold, latestTest: latestTest?.report))
    }

    /// The job that rebuilds the project's learner exactly: 409 while it has none.
    public func consolidation(of project: Project) async throws -> JobRequest {
        guard try await store.learning.learner(projectID: project.id) != nil else {
            throw Refusal.conflict("project \(project.name) has no learner yet")
        }
        return try ConsolidateJob.request(projectID: project.id)
    }

    /// The job that trains a classifier head on the project's accepted labelled photos.
    public func training(of project: Project, activate: Bool?) throws -> JobRequest {
        try JobRequest(
            kind: TrainJob.kind, encoding: TrainJob.Payload(projectId: project.id, activate: activate),
            queue: JobSettings.Queue.ml, projectID: project.id)
    }

    /// The job that tests the learner or a classifier: `version` is for a classifier only
    /// (400) and must exist (404).
    public func evaluation(of project: Project, target: Target, version: Int?, split: Split) async throws
        -> JobRequest
    {
        if let version {
            guard target == .classifier else {
                throw Refusal.invalid("version applies to target \"classifier\" only", field: "version")
            }
            guard try await store.learning.classifier(projectID: project.id, version: version) != nil else {
                throw Refusal.notFound("project \(project.name) has no classifier version \(version)")
            }
        }
        return try JobRequest(
            kind: EvaluateJob.kind,
            encoding: EvaluateJob.Payload(projectId: project.id, target: target, version: version, split: split),
            queue: JobSettings.Queue.ml, projectID: project.id)
    }
}
