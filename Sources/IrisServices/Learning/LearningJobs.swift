import Foundation
public import IrisCore
import IrisML
import IrisStore

/// `learner.consolidate`: rebuilds learners exactly from their members (one project, or, when
/// run by the scheduler, every learner changed since its last consolidation or over another
/// model than its project uses now). Each
/// project's progress is an event, so its pages show it as toasts: updating, updated, failed.
public struct ConsolidateJob: JobHandler {
    public init(learning: LearningService) {
        self.learning = learning
    }

    public static let kind = "learner.consolidate"

    /// Rebuilds one project's learner (on the model queue, as the project's job).
    public static func request(projectID: Int64) throws -> JobRequest {
        try JobRequest(
            kind: kind, encoding: Payload(projectId: projectID), queue: JobSettings.Queue.ml, projectID: projectID)
    }

    public struct Payload: Codable, Sendable {
        public init(projectId: Int64? = nil) {
            self.projectId = projectId
        }

        public var projectId: Int64?
        public enum CodingKeys: String, CodingKey { case projectId = "project_id" }
    }

    public struct Output: Encodable, Sendable {
        public init(projects: [Int64: Int]) {
            self.projects = projects
        }

        public var projects: [Int64: Int]
    }

    public let learning: LearningService

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        let projects: [Int64]
        if let project = payload.projectId {
            projects = [project]
        } else {
            // Changed learners, and those over another model than their project's now (a
            // changed `learner.model` setting): rebuilt over it while they keep answering.
            let moved = try await learning.store.learning.overOtherModel(defaultModel: learning.defaultModel)
            projects = Set(try await learning.store.learning.unconsolidated() + moved).sorted()
        }
        var done: [Int64: Int] = [:]
        for (index, projectID) in projects.enumerated() {
            context.report(
                progress: Double(index) / Double(max(projects.count, 1)), message: "consolidating project \(projectID)")
            await learning.announce(
                as: "iris learner", .learnerUpdating, projectID: projectID, subject: "learner", detail: [:])
            do {
                let share = 1 / Double(max(projects.count, 1))
                let members = try await learning.consolidate(projectID: projectID) { done, total in
                    // Only a change of model embeds anew; that is the long part.
                    context.report(
                        progress: (Double(index) + Double(done) / Double(max(total, 1))) * share,
                        message: "project \(projectID): embedded \(done) of \(total) members")
                }
                if let members {
                    done[projectID] = members
                    await learning.announce(
                        as: "iris learner", .learnerUpdated, projectID: projectID, subject: "learner",
                        detail: ["members": "\(members)"])
                }
            } catch {
                await learning.announce(
                    as: "iris learner", .learnerFailed, projectID: projectID, subject: "learner",
                    detail: ["error": String(describing: error).prefix(300).description])
                throw error
            }
        }
        return Output(projects: done)
    }
}

/// `classifier.train`: trains a new head version on a project's labelled embeddings.
public struct TrainJob: JobHandler {
    public init(learning: LearningService) {
        self.learning = learning
    }

    public static let kind = "classifier.train"

    public struct Payload: Codable, Sendable {
        public init(projectId: Int64, activate: Bool? = nil) {
            self.projectId = projectId
            self.activate = activate
        }

        public var projectId: Int64
        /// Make the new version active when it is done.
        public var activate: Bool?
        public enum CodingKeys: String, CodingKey {
            case projectId = "project_id"
            case activate
        }
    }

    public struct Output: Encodable, Sendable {
        public init(version: Int, classes: Int, validationAccuracy: Double, labelled: Int? = nil) {
            self.version = version
            self.classes = classes
            self.validationAccuracy = validationAccuracy
            self.labelled = labelled
        }

        public var version: Int
        public var classes: Int
        public var validationAccuracy: Double
        public var labelled: Int?
        public enum CodingKeys: String, CodingKey {
            case version, classes
            case validationAccuracy = "validation_accuracy"
            case labelled
        }
    }

    public let learning: LearningService

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard try await learning.store.projects.find(id: payload.projectId) != nil else {
            throw PermanentJobFailure("project \(payload.projectId) no longer exists")
        }
        let record = try await learning.train(projectID: payload.projectId, jobID: context.job.id) {
            progress, message in
            context.report(progress: progress, message: message)
        }
        let summary = try JSONDecoder().decode(LearningService.TrainingSummary.self, from: Data(record.report.utf8))
        var labelled: Int?
        if payload.activate == true {
            labelled = try await learning.activate(projectID: payload.projectId, version: record.version)
        }
        await learning.announce(
            as: "iris trainer", .classifierTrained, projectID: payload.projectId,
            subject: "classifier v\(record.version)",
            detail: ["validation_accuracy": String(format: "%.3f", summary.validationAccuracy)])
        return Output(
            version: record.version, classes: record.classes.count, validationAccuracy: summary.validationAccuracy,
            labelled: labelled)
    }
}

/// `model.evaluate`: tests the learner or a head version and keeps the run.
public struct EvaluateJob: JobHandler {
    public init(learning: LearningService) {
        self.learning = learning
    }

    public static let kind = "model.evaluate"

    public struct Payload: Codable, Sendable {
        public init(
            projectId: Int64, target: LearningService.Target, version: Int? = nil, split: LearningService.Split? = nil
        ) {
            self.projectId = projectId
            self.target = target
            self.version = version
            self.split = split
        }

        public var projectId: Int64
        public var target: LearningService.Target
        public var version: Int?
        public var split: LearningService.Split?
        public enum CodingKeys: String, CodingKey {
            case projectId = "project_id"
            case target, version, split
        }
    }

    public struct Output: Encodable, Sendable {
        public init(evaluationId: Int64, accuracy: Double, count: Int) {
            self.evaluationId = evaluationId
            self.accuracy = accuracy
            self.count = count
        }

        public var evaluationId: Int64
        public var accuracy: Double
        public var count: Int
        public enum CodingKeys: String, CodingKey {
            case evaluationId = "evaluation_id"
            case accuracy, count
        }
    }

    public let learning: LearningService

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        context.report(progress: 0.1, message: "evaluating the \(payload.target.rawValue)")
        let record = try await learning.evaluate(
            projectID: payload.projectId, target: payload.target, version: payload.version,
            split: payload.split ?? .heldOut, jobID: context.job.id)
        let body = try JSONDecoder().decode(LearningService.EvaluationBody.self, from: Data(record.report.utf8))
        await learning.announce(
            as: "iris evaluator", .modelEvaluated, projectID: payload.projectId, subject: "evaluation \(record.id)",
            detail: ["accuracy": String(format: "%.3f", body.report.accuracy)])
        return Output(evaluationId: record.id, accuracy: body.report.accuracy, count: body.report.count)
    }
}

extension LearningService {
    /// A learning job's news as an event of its project: a toast on its pages, and webhooks can hear of it.
    public func announce(
        as actor: String, _ action: EventAction, projectID: Int64, subject: String, detail: [String: String]
    ) async {
        await audit.record(
            as: .system(actor), action, project: projectID, subject: subject, detail: detail)
    }
}
