import Foundation
import Hummingbird
import IrisBlobs
import IrisCore
import IrisImaging
import IrisML
import IrisServices
import IrisStore

/// `/api/v1/projects/{id}/learner`, `/classifiers` and `/evaluations`: the incremental
/// learner, trained heads ("Train model") and evaluation runs ("Test model").
struct LearningController {
    let store: IrisStore
    let learning: LearningService
    let queue: JobQueue
    let importer: ImageFolderImport
    let scratch: ScratchSpace
    let limits: IngestLimits
    let audit: AuditLog

    /// Most files one classify request may carry.
    static let maxFiles = 32

    func addRoutes(to group: Routes<RouterGroup<IrisRequestContext>>) {
        group.get("projects/{id}/learner", .project(.viewer), use: show)
        group.patch("projects/{id}/learner", .project(.editor), use: update)
        group.post("projects/{id}/learner/classes", .project(.editor), use: addClass)
        group.delete("projects/{id}/learner/classes/{name}", .project(.editor), use: removeClass)
        group.post("projects/{id}/learner/classify", .project(.viewer), use: classify)
        group.post("projects/{id}/learner/consolidate", .project(.editor), use: consolidate)
        group.post("projects/{id}/learner/reset", .admin, use: reset)
        group.post("projects/{id}/classifiers", .project(.editor), use: train)
        group.get("projects/{id}/classifiers", .project(.viewer), use: classifiers)
        group.post("projects/{id}/classifiers/{version}/activate", .project(.editor), use: activate)
        group.post("projects/{id}/evaluations", .project(.editor), use: evaluate)
        group.get("projects/{id}/evaluations", .project(.viewer), use: evaluations)
        group.get("projects/{id}/evaluations/{evaluationID}", .project(.viewer), use: evaluation)
    }

    // MARK: - Learner

    struct ClassBody: Encodable, Sendable {
        var name: String
        var count: Int
        var threshold: Double
        var noiseMean: Double
        var noiseStd: Double
        var examples: [String]
        var updatedAt: Date
        /// How alike its photos are next to the other classes': tight, usual, spread out, not measured yet.
        var spread: String
        /// "35 photos · answers for most photos like its own".
        var summary: String
        var spreadText: String
        /// Classes its photos get taken for (or that are taken for it).
        var confusedWith: [String]
        /// `test` (the latest learner test) or `distance` (centroids closer than its photos usually are).
        var confusionFrom: String?
    }

    struct LearnerBody: ResponseEncodable {
        var projectId: Int64
        /// The embedding model the project chose for its learner and heads (or the setting's).
        var model: String
        /// The models that can be chosen.
        var models: [String]
        /// The classes are still over another model: a consolidation job is embedding them anew.
        var rebuilding: Bool
        var exists: Bool
        var count: Int
        var classes: [ClassBody]
        /// The owner's factor on the measured threshold (1 unless set).
        var thresholdScale: Double
        /// Every class's noise together (what tight and spread out are measured against).
        var pooledNoiseMean: Double?
        var pooledNoiseStd: Double?
        var updatedAt: Date?
        var consolidatedAt: Date?
    }

    /// A PATCH body: `threshold_scale` from 0.5 to 2, or `null` for 1; `model`, an embedding
    /// model's name, or `null` for the `learner.model` setting's.
    struct PatchRequest: Decodable {
        var thresholdScale: Double??
        var model: String??

        enum CodingKeys: String, CodingKey { case thresholdScale, model }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            thresholdScale = try container.decodeClearable(Double.self, forKey: .thresholdScale)
            model = try container.decodeClearable(String.self, forKey: .model)
        }
    }

    static let thresholdScales = 0.5...2.0

    @Sendable func update(_ request: Request, context: IrisRequestContext) async throws -> LearnerBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let body = try await request.decode(as: PatchRequest.self, context: context)
        // Every field is checked before anything is written.
        if case .some(.some(let scale)) = body.thresholdScale, !(Self.thresholdScales.contains(scale)) {
            throw Problem.badRequest(
                "threshold_scale must be from 0.5 to 2 (or null for 1), not \(scale)", field: "threshold_scale")
        }
        if case .some(.some(let name)) = body.model { try learning.checkEmbeddingModel(name) }
        if case .some(let model) = body.model,
            let chosen = try await learning.choose(model: model, projectID: project.id, rebuildingWith: queue)
        {
            await audit.record(
                context.caller, .learnerModelSet, project: project.id, subject: "learner", detail: ["model": chosen])
        }
        if case .some(let scale) = body.thresholdScale {
            try await store.learning.setThresholdScale(projectID: project.id, scale == 1 ? nil : scale)
            await audit.record(
                context.caller, .learnerThresholdSet, project: project.id, subject: "learner",
                detail: ["threshold_scale": scale.map { String($0) } ?? "1"])
        }
        return try await show(request, context: context)
    }

    @Sendable func show(_ request: Request, context: IrisRequestContext) async throws -> LearnerBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let summary = try await learning.summary(of: project)
        guard let record = summary.record, let learner = summary.learner else {
            return LearnerBody(
                projectId: project.id, model: summary.model, models: learning.embeddingModels, rebuilding: false,
                exists: false, count: 0, classes: [], thresholdScale: summary.rules.scale)
        }
        let pooled = learner.pooledNoise
        return LearnerBody(
            projectId: project.id, model: summary.model, models: learning.embeddingModels,
            rebuilding: record.model != summary.model, exists: true, count: record.count,
            classes: summary.classes.map { stored in
                let shell = IncrementalLearner.Shell(
                    name: stored.name, count: stored.count, sum: [], noiseMean: stored.noiseMean,
                    noiseM2: stored.noiseM2)
                let said = summary.words[stored.name]
                return ClassBody(
                    name: stored.name, count: stored.count,
                    threshold: summary.threshold,
                    noiseMean: stored.noiseMean, noiseStd: shell.noiseStd,
                    examples: summary.examples[stored.name] ?? [],
                    updatedAt: stored.updatedAt,
                    spread: (said?.reading.spread ?? .unmeasured).rawValue,
                    summary: said?.reading.summary ?? "no photos (its last one was relabelled)",
                    spreadText: said?.reading.spreadText ?? "",
                    confusedWith: said?.confusedWith ?? [], confusionFrom: said?.confusionFrom)
            },
            thresholdScale: summary.rules.scale, pooledNoiseMean: pooled.samples > 0 ? pooled.mean : nil,
            pooledNoiseStd: pooled.samples > 1 ? pooled.std : nil, updatedAt: record.updatedAt,
            consolidatedAt: record.consolidatedAt)
    }

    struct AddClassRequest: Decodable {
        var name: String
        /// Make the class from the project's images with this human label (default: `name`).
        var fromLabel: String?
        /// Make the class from its name alone (zero-shot; the learner's model must be a
        /// vision–language model's image side): no photo yet, its prototype the name's text embedding.
        var fromName: Bool?
    }

    struct AddedBody: ResponseEncodable {
        var name: String
        var added: Int
        var imported: Int?
        var duplicates: Int?
        var skipped: [ImportReport.Skipped]
        var notEmbedded: [NotEmbedded]

        struct NotEmbedded: Encodable, Sendable {
            var sha256: String
            var reason: String
        }
    }

    /// Multipart with a `name` part and a zip in `file` (every image is stored in the
    /// project with the class name as its label), or JSON `{"name", "from_label"}` to make
    /// the class from images already labelled.
    @Sendable func addClass(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<AddedBody> {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let added: LearningService.AddedClass
        if request.headers[.contentType]?.lowercased().hasPrefix("multipart/form-data") ?? false {
            let received = try await MultipartReceiver.receive(request, into: scratch, limit: limits.maxUploadBytes)
            defer { received.discard() }
            let name = try LearningService.newClassName(received.fields["name"]?.first, in: project)
            guard let zip = received.file else {
                throw Problem.badRequest("send the class's images as a zip in the part named \"file\"", field: "file")
            }
            added = try await learning.addClass(to: project, name: name, zip: zip.url, importer: importer)
        } else {
            let body = try await request.decode(as: AddClassRequest.self, context: context)
            let name = try LearningService.newClassName(body.name, in: project)
            if body.fromName == true {
                guard body.fromLabel == nil else {
                    throw Problem.badRequest("give from_label or from_name, not both", field: "from_name")
                }
                let made = try await learning.addClass(projectID: project.id, fromName: name)
                await audit.record(
                    context.caller, .learnerClassAdded, project: project.id, subject: "class \(made.name)",
                    detail: ["examples": "0", "from": "name"])
                return EditedResponse(
                    status: .created,
                    response: AddedBody(
                        name: made.name, added: 0, imported: nil, duplicates: nil, skipped: [], notEmbedded: []))
            }
            added = try await learning.addClass(to: project, name: name, fromLabel: body.fromLabel)
        }
        await audit.record(
            context.caller, .learnerClassAdded, project: project.id, subject: "class \(added.name)",
            detail: ["examples": "\(added.added)"])
        return EditedResponse(
            status: .created,
            response: AddedBody(
                name: added.name, added: added.added, imported: added.report?.imported,
                duplicates: added.report?.duplicates,
                skipped: added.report?.skipped ?? [],
                notEmbedded: added.failed.map { .init(sha256: $0.sha256, reason: $0.reason) }))
    }

    @Sendable func removeClass(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let name = context.parameters.get("name")?.removingPercentEncoding ?? ""
        try await learning.removeClass(projectID: project.id, name: name)
        await audit.record(context.caller, .learnerClassRemoved, project: project.id, subject: "class \(name)")
        return Response(status: .noContent)
    }

    struct ClassifyRequest: Decodable {
        var images: [String]
    }

    struct ClassifiedBody: ResponseEncodable {
        var items: [Item]

        struct Item: Encodable, Sendable {
            var file: String?
            var sha256: String?
            /// The nearest class, or `unknown` when it is beyond its threshold.
            var label: String?
            var unknown: Bool?
            /// The calibrated probability that the nearest class is the image's class.
            var confidence: Double?
            /// The answer as one sentence: "bird, 91% sure", or "unknown — nearest class bovid, but
            /// further than its photos usually are".
            var sentence: String?
            var ranked: [Ranked]?
            var error: AnalysisController.Created.ItemError?
        }

        struct Ranked: Encodable, Sendable {
            var label: String
            var distance: Double
            var threshold: Double
            var confidence: Double
        }
    }

    /// JSON `{"images": [sha256...]}` of stored images, or multipart `file` parts (not stored).
    @Sendable func classify(_ request: Request, context: IrisRequestContext) async throws -> ClassifiedBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        // Refused before any file is received or embedded.
        try await learning.requireClasses(in: project)
        var inputs: [(file: String?, sha256: String?, input: LearningService.ClassifyInput)] = []
        var received: ReceivedMultipart?
        defer { received?.discard() }
        if request.headers[.contentType]?.lowercased().hasPrefix("multipart/form-data") ?? false {
            received = try await MultipartReceiver.receive(
                request, into: scratch, limit: limits.maxUploadBytes, maxFiles: Self.maxFiles)
            guard let files = received?.files, !files.isEmpty else {
                throw Problem.badRequest("send images as parts named \"file\"", field: "file")
            }
            inputs = files.map { ($0.originalName, $0.sha256, .file(path: $0.url.path)) }
        } else {
            let body = try await request.decode(as: ClassifyRequest.self, context: context)
            guard (1...Self.maxFiles).contains(body.images.count) else {
                throw Problem.badRequest("images must name 1 to \(Self.maxFiles) sha256s", field: "images")
            }
            for sha256 in body.images {
                try Parameters.checkSHA256(sha256, field: "images")
                inputs.append((nil, sha256, .stored(sha256: sha256)))
            }
        }
        let answers = try await learning.classify(inputs.map(\.input), in: project)
        var items: [ClassifiedBody.Item] = []
        for (input, answer) in zip(inputs, answers) {
            switch answer {
            case .success(let answer):
                items.append(
                    .init(
                        file: input.file, sha256: input.sha256, label: answer.label, unknown: answer.label == nil,
                        confidence: answer.confidence, sentence: ModelInWords.sentence(for: answer),
                        ranked: answer.ranked.map {
                            .init(
                                label: $0.label, distance: $0.distance, threshold: $0.threshold,
                                confidence: $0.confidence)
                        }))
            case .failure(let error as VipsError):
                items.append(
                    .init(file: input.file, sha256: input.sha256, error: .init(status: 422, detail: "\(error)")))
            case .failure(let error):
                // A refusal of this one image is its item's error; anything else fails the request.
                guard let problem = ErrorMapping.problem(error), problem.status < 500, problem.status != 409 else {
                    throw error
                }
                items.append(
                    .init(
                        file: input.file, sha256: input.sha256,
                        error: .init(status: problem.status, detail: problem.detail)))
            }
        }
        return ClassifiedBody(items: items)
    }

    @Sendable func consolidate(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<
        APIModel.JobBody
    > {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        return try await enqueue(try await learning.consolidation(of: project))
    }

    struct ResetBody: ResponseEncodable {
        var reset: Bool
    }

    @Sendable func reset(_ request: Request, context: IrisRequestContext) async throws -> ResetBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let removed = try await store.learning.reset(projectID: project.id)
        await audit.record(context.caller, .learnerReset, project: project.id, subject: "learner")
        return ResetBody(reset: removed)
    }

    // MARK: - Classifiers

    struct TrainRequest: Decodable {
        var activate: Bool?
    }

    @Sendable func train(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<
        APIModel.JobBody
    > {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let body = try await Self.optionalBody(request, context: context, as: TrainRequest.self) ?? TrainRequest()
        return try await enqueue(try learning.training(of: project, activate: body.activate))
    }

    struct ClassifierBody: Encodable, Sendable {
        var version: Int
        var model: String
        var classes: [String]
        var active: Bool
        var jobId: Int64?
        var createdAt: Date
        var training: LearningService.TrainingSummary?
        /// Photos whose labels or review state changed since it was trained: it has not seen them.
        var labelsChangedSince: Int
        /// Said when it learned from fewer than 30 photos per class: its figures are not reliable.
        var caution: String?
    }

    @Sendable func classifiers(_ request: Request, context: IrisRequestContext) async throws
        -> APIModel.Page<ClassifierBody>
    {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        var items: [ClassifierBody] = []
        for record in try await store.learning.classifiers(projectID: project.id) {
            items.append(
                Self.body(
                    record, changed: try await store.labels.changedSince(record.createdAt, in: project.id)))
        }
        return APIModel.Page(items: items)
    }

    static func body(_ record: ClassifierRecord, changed: Int) -> ClassifierBody {
        let training = try? JSONDecoder().decode(LearningService.TrainingSummary.self, from: Data(record.report.utf8))
        return ClassifierBody(
            version: record.version, model: record.model, classes: record.classes, active: record.active,
            jobId: record.jobID,
            createdAt: record.createdAt,
            training: training,
            labelsChangedSince: changed,
            caution: training.flatMap {
                ModelInWords.trainingCaution(photos: $0.trainCount + $0.validationCount, classes: $0.classes.count)
            })
    }

    struct ActivatedBody: ResponseEncodable {
        var version: Int
        var active: Bool
        var labelled: Int
    }

    @Sendable func activate(_ request: Request, context: IrisRequestContext) async throws -> ActivatedBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let raw = context.parameters.get("version") ?? ""
        guard let version = Int(raw), version > 0 else {
            throw Problem.badRequest("version must be a positive integer, not \"\(raw.prefix(40))\"", field: "version")
        }
        let labelled = try await learning.activate(projectID: project.id, version: version)
        await audit.record(
            context.caller, .classifierActivated, project: project.id, subject: "classifier v\(version)")
        return ActivatedBody(version: version, active: true, labelled: labelled)
    }

    // MARK: - Evaluations

    struct EvaluateRequest: Decodable {
        var target: String?
        var version: Int?
        var split: String?
    }

    @Sendable func evaluate(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<
        APIModel.JobBody
    > {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let body = try await Self.optionalBody(request, context: context, as: EvaluateRequest.self) ?? EvaluateRequest()
        guard let target = LearningService.Target(rawValue: body.target ?? "learner") else {
            throw Problem.badRequest(
                "target must be \"learner\" or \"classifier\", not \"\(body.target!.prefix(40))\"", field: "target")
        }
        guard let split = LearningService.Split(rawValue: body.split ?? "held-out") else {
            throw Problem.badRequest(
                "split must be \"held-out\" or \"all\", not \"\(body.split!.prefix(40))\"", field: "split")
        }
        return try await enqueue(
            try await learning.evaluation(of: project, target: target, version: body.version, split: split))
    }

    struct EvaluationBody: ResponseEncodable {
        var id: Int64
        var target: String
        var version: Int?
        var split: String
        var jobId: Int64?
        var createdAt: Date
        var report: EvaluationReport?
        /// The project's newest label change when the run began: runs at the same one used the same labels.
        var labelOperation: Int64?
        /// The 95% Wilson interval of `report.accuracy` over its `count` photos.
        var accuracyInterval: Interval?
        /// Said when a class had fewer than 30 test photos: the figures are not reliable.
        var caution: String?

        struct Interval: Encodable, Sendable {
            var low: Double
            var high: Double
        }
    }

    @Sendable func evaluations(_ request: Request, context: IrisRequestContext) async throws
        -> APIModel.Page<EvaluationBody>
    {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let limit = try Parameters.limit(request, default: 100, max: 500)
        return APIModel.Page(
            items: try await store.learning.evaluations(projectID: project.id, limit: limit).map(Self.body))
    }

    @Sendable func evaluation(_ request: Request, context: IrisRequestContext) async throws -> EvaluationBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let id = try Parameters.id(context, "evaluationID", noun: "evaluation")
        guard let record = try await store.learning.evaluation(projectID: project.id, id: id) else {
            throw Problem.notFound("project \(project.name) has no evaluation \(id)")
        }
        return Self.body(record)
    }

    static func body(_ record: EvaluationRecord) -> EvaluationBody {
        let stored = try? JSONDecoder().decode(LearningService.EvaluationBody.self, from: Data(record.report.utf8))
        let interval = stored.map { stored in
            let report = stored.report
            let correct = Int((report.accuracy * Double(report.count)).rounded())
            return ModelInWords.wilson(correct: correct, total: report.count)
        }
        return EvaluationBody(
            id: record.id, target: record.target, version: record.version, split: record.split, jobId: record.jobID,
            createdAt: record.createdAt, report: stored?.report, labelOperation: stored?.labelOperation,
            accuracyInterval: interval.map { .init(low: $0.low, high: $0.high) },
            caution: stored.flatMap { ModelInWords.testCaution(supports: $0.report.classes.map(\.support)) })
    }

    // MARK: - Shared

    func enqueue(_ job: JobRequest) async throws -> EditedResponse<APIModel.JobBody> {
        let (queued, _) = try await queue.enqueue(job)
        return EditedResponse(status: .accepted, response: APIModel.JobBody(queued))
    }

    /// A JSON body that may be absent (an empty POST takes the defaults).
    static func optionalBody<T: Decodable>(_ request: Request, context: IrisRequestContext, as type: T.Type)
        async throws -> T?
    {
        guard request.headers[.contentLength].map({ $0 != "0" }) ?? (request.headers[.contentType] != nil) else {
            return nil
        }
        return try await request.decode(as: type, context: context)
    }
}
