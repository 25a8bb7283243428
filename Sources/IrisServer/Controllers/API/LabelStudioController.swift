import Foundation
import HTTPTypes
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// Iris as a Label Studio ML backend, one per project: Label Studio's "Connect model" takes
/// `…/api/v1/projects/{id}/label-studio` and appends `/health`, `/setup`, `/predict` and
/// `/webhook`. Credentials: an Iris token as the Basic password (any user name) or as a
/// Bearer token. Bodies keep Label Studio's own keys (its task data is free-form), so they
/// are decoded without Iris's snake_case conversion.
struct LabelStudioController {
    let store: IrisStore
    let backend: LabelStudioBackend
    let guardian: AccessGuard

    func addRoutes(to api: Routes<RouterGroup<IrisRequestContext>>) {
        api.get("projects/{id}/label-studio/health", .project(.viewer), use: health)
        api.post("projects/{id}/label-studio/setup", .project(.viewer), use: setup)
        api.post("projects/{id}/label-studio/predict", .project(.viewer), use: predict)
        api.post("projects/{id}/label-studio/webhook", .project(.editor), use: webhook)
    }

    struct HealthBody: ResponseEncodable {
        var status: String
        var modelClass: String
        var projectId: Int64
    }

    @Sendable func health(_ request: Request, context: IrisRequestContext) async throws -> HealthBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        return HealthBody(status: "UP", modelClass: "Iris", projectId: project.id)
    }

    /// Label Studio's `/setup`: its project's config (`schema`), its address and its creator's
    /// token (Iris ignores both and keeps nothing). Answers the model version.
    struct SetupRequest: Decodable {
        var schema: String?
    }

    struct SetupBody: ResponseEncodable {
        var modelVersion: String
    }

    @Sendable func setup(_ request: Request, context: IrisRequestContext) async throws -> SetupBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let body = try IrisJSONDecoder.decode(
            SetupRequest.self, from: try await IrisJSONDecoder.body(of: request, context: context),
            convertingKeys: false)
        if let schema = body.schema { _ = try LabelStudioConfig.parse(schema, field: "schema") }
        return SetupBody(modelVersion: try await backend.predictor(for: project).modelVersion)
    }

    /// A task: its id and its data, of which only string values are read (an image URL).
    struct TaskBody: Decodable {
        var id: Int64?
        var data: [String: Loose]

        var task: LabelStudioBackend.Task {
            LabelStudioBackend.Task(id: id, data: data.compactMapValues(\.text))
        }
    }

    /// Any JSON value, keeping only a string.
    struct Loose: Decodable {
        var text: String?
        init(from decoder: any Decoder) throws {
            text = try? decoder.singleValueContainer().decode(String.self)
        }
    }

    struct PredictRequest: Decodable {
        var tasks: [TaskBody]
        var labelConfig: String

        enum CodingKeys: String, CodingKey {
            case tasks
            case labelConfig = "label_config"
        }
    }

    /// `results` holds, per task in order, a list of zero or one prediction: Label Studio
    /// matches answers to tasks by position, and an empty list makes no prediction.
    struct PredictBody: ResponseEncodable {
        struct Prediction: Encodable {
            var modelVersion: String
            var score: Double
            var result: [Region]
        }
        struct Region: Encodable {
            struct Value: Encodable { var choices: [String] }
            var fromName: String
            var toName: String
            var type = "choices"
            var value: Value
        }
        var results: [[Prediction]]
        var modelVersion: String
    }

    @Sendable func predict(_ request: Request, context: IrisRequestContext) async throws -> PredictBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let body = try IrisJSONDecoder.decode(
            PredictRequest.self, from: try await IrisJSONDecoder.body(of: request, context: context),
            convertingKeys: false)
        let config = try LabelStudioConfig.parse(body.labelConfig)
        guard !body.tasks.isEmpty else { throw Problem.badRequest("tasks must hold at least one task", field: "tasks") }
        let caller = context.caller
        let (predictor, predictions) = try await backend.predict(
            body.tasks.map(\.task), config: config, project: project, irisHost: Self.host(of: request),
            readable: { [guardian] sha256 in
                let memberships = try? await guardian.requireView(image: sha256, caller: caller)
                return memberships?.contains { $0.projectID == project.id } ?? false
            })
        let version = predictor.modelVersion
        return PredictBody(
            results: predictions.map { prediction in
                guard let prediction else { return [] }
                return [
                    .init(
                        modelVersion: version, score: prediction.score,
                        result: [
                            .init(
                                fromName: config.fromName, toName: config.toName,
                                value: .init(choices: [prediction.choice]))
                        ])
                ]
            }, modelVersion: version)
    }

    /// The host and port Label Studio called Iris by (HTTP/1's `Host`), so the task URLs it
    /// gives for Iris's own photos are recognised.
    static func host(of request: Request) -> String? {
        request.head.authority ?? HTTPField.Name("Host").flatMap { request.headers[$0] }
    }

    /// The part of Label Studio's webhook payload Iris reads.
    struct WebhookAction: Decodable {
        var action: String
        /// Read here too, so a payload whose `project` is not an object is refused whatever its action.
        var project: ProjectBody?
    }

    struct AnnotationBody: Decodable {
        struct Region: Decodable {
            struct Value: Decodable { var choices: [String]? }
            var type: String?
            var fromName: String?
            var value: Value?
            enum CodingKeys: String, CodingKey {
                case type, value
                case fromName = "from_name"
            }
        }
        var id: Int64?
        var task: Int64?
        var result: [Region]?
        var wasCancelled: Bool?
        enum CodingKeys: String, CodingKey {
            case id, task, result
            case wasCancelled = "was_cancelled"
        }
    }

    struct ProjectBody: Decodable {
        var labelConfig: String?
        enum CodingKeys: String, CodingKey { case labelConfig = "label_config" }
    }

    struct AnnotationEvent: Decodable {
        var annotation: AnnotationBody
        var task: TaskBody
        var project: ProjectBody?
    }

    struct AnnotationsEvent: Decodable {
        var annotation: [AnnotationBody]
        var task: [TaskBody]
        var project: ProjectBody?
    }

    struct WebhookBody: ResponseEncodable {
        struct Labelled: Encodable {
            var sha256: String
            var labels: [String]
            var operation: Int64?
        }
        var action: String
        /// `applied`, or `ignored` for events Iris does not act on (with `detail` saying why).
        var status: String
        var detail: String?
        var labelled: [Labelled]
    }

    /// The most annotations one `ANNOTATIONS_CREATED` event may carry.
    static let maxAnnotations = 100

    @Sendable func webhook(_ request: Request, context: IrisRequestContext) async throws -> WebhookBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let data = try await IrisJSONDecoder.body(of: request, context: context)
        let action = try IrisJSONDecoder.decode(WebhookAction.self, from: data, convertingKeys: false).action
        let pairs: [(AnnotationBody, TaskBody)]
        let labelConfig: String?
        switch action {
        case "ANNOTATION_CREATED", "ANNOTATION_UPDATED":
            let event = try IrisJSONDecoder.decode(AnnotationEvent.self, from: data, convertingKeys: false)
            pairs = [(event.annotation, event.task)]
            labelConfig = event.project?.labelConfig
        case "ANNOTATIONS_CREATED":
            let event = try IrisJSONDecoder.decode(AnnotationsEvent.self, from: data, convertingKeys: false)
            guard event.annotation.count <= Self.maxAnnotations else {
                throw Problem.badRequest(
                    "annotation may hold at most \(Self.maxAnnotations) annotations, not \(event.annotation.count)",
                    field: "annotation")
            }
            let tasks = Dictionary(event.task.compactMap { task in task.id.map { ($0, task) } }) { first, _ in first }
            pairs = try event.annotation.map { annotation in
                guard let id = annotation.task, let task = tasks[id] else {
                    throw Problem.badRequest("every annotation's task must be among task", field: "annotation")
                }
                return (annotation, task)
            }
            labelConfig = event.project?.labelConfig
        case "ANNOTATIONS_DELETED":
            return WebhookBody(
                action: action, status: "ignored",
                detail:
                    "Label Studio names only the deleted annotations' ids, not their photos: the labels stay in Iris, where the change can be undone",
                labelled: [])
        default:
            return WebhookBody(
                action: String(action.prefix(60)), status: "ignored",
                detail: "Iris acts on ANNOTATION_CREATED, ANNOTATIONS_CREATED and ANNOTATION_UPDATED", labelled: [])
        }
        // The config says which data key holds the photo and which control's choices count.
        let config = try labelConfig.map { try LabelStudioConfig.parse($0, field: "project.label_config") }
        var labelled: [WebhookBody.Labelled] = []
        for (annotation, task) in pairs {
            let choices = (annotation.result ?? []).filter { region in
                region.type == "choices" && (config == nil || region.fromName == config?.fromName)
            }.flatMap { $0.value?.choices ?? [] }
            let applied = try await backend.annotate(
                choices: choices, cancelled: annotation.wasCancelled ?? false, data: task.task.data,
                dataKey: config?.dataKey, project: project, irisHost: Self.host(of: request), by: context.caller)
            if case .labelled(let sha256, let labels, let operation) = applied {
                labelled.append(.init(sha256: sha256, labels: labels, operation: operation))
            }
        }
        return WebhookBody(action: action, status: "applied", detail: nil, labelled: labelled)
    }
}
