import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// `/api/v1/jobs`: see background work, its progress and results; cancel and retry it.
struct JobController {
    let queue: JobQueue
    let guardian: AccessGuard
    let audit: AuditLog

    private var store: IrisStore { queue.store }

    struct EnqueueRequest: Decodable {
        var kind: String
        var payload: JSONValue?
        var queue: String?
        var priority: Int?
        var maxAttempts: Int?
        var idempotencyKey: String?

        // Decoded without key conversion, so the payload's own keys arrive as sent.
        enum CodingKeys: String, CodingKey {
            case kind, payload, queue, priority
            case maxAttempts = "max_attempts"
            case idempotencyKey = "idempotency_key"
        }
    }

    struct QueueList: ResponseEncodable {
        struct Entry: Encodable, Sendable {
            var queue: String
            var counts: [String: Int]
        }
        var items: [Entry]
        var kinds: [String]
    }

    func addRoutes(to group: Routes<RouterGroup<IrisRequestContext>>) {
        group.get("jobs", .signedIn, use: list)
        group.post("jobs", .admin, use: enqueue)
        group.get("jobs/{jobID}", .job(.viewer), use: show)
        group.post("jobs/{jobID}/cancel", .job(.editor), use: cancel)
        group.post("jobs/{jobID}/retry", .job(.editor), use: retry)
        group.get("queues", .admin, use: queues)
    }

    @Sendable func list(_ request: Request, context: IrisRequestContext) async throws -> APIModel.Page<APIModel.JobBody>
    {
        let query = request.uri.queryParameters
        let state = try Parameters.choice(request, "state", of: JobState.self)
        let kind: String? = query.get("kind").map { String($0) }
        if let kind, kind.isEmpty || kind.count > 100 {
            throw Problem.badRequest("kind must be 1 to 100 characters", field: "kind")
        }
        let limit = try Parameters.limit(request)
        let visible = try await guardian.visibleProjects(context.caller)
        let jobs = try await store.jobs.list(
            state: state, kind: kind, projectIDs: visible.map { Array($0) }, keyPrefix: nil,
            before: try Parameters.cursor(request), limit: limit)
        return APIModel.Page(
            items: jobs.map { APIModel.JobBody($0) },
            nextCursor: jobs.count == limit ? Parameters.encodeCursor(jobs.last?.id) : nil)
    }

    @Sendable func show(_ request: Request, context: IrisRequestContext) async throws -> APIModel.JobBody {
        let id = try Parameters.id(context, "jobID", noun: "job")
        guard let job = try await store.jobs.find(id: id) else { throw Problem.notFound("no job has id \(id)") }
        var runs = try await store.jobs.runs(jobID: id)
        // A delivery's notes hold the webhook's URL and the receiver's reply: owners only.
        if job.kind == WebhookDelivery.kind, let projectID = job.projectID,
            (try? await guardian.require(.owner, inProject: projectID, caller: context.caller)) == nil
        {
            runs = runs.map { run in
                var run = run
                run.detail = nil
                return run
            }
        }
        return APIModel.JobBody(job, runs: runs)
    }

    @Sendable func cancel(_ request: Request, context: IrisRequestContext) async throws -> APIModel.JobBody {
        let job = try await store.jobs.cancel(id: try Parameters.id(context, "jobID", noun: "job"))
        await audit.record(
            context.caller, .jobCancelled, project: job.projectID, subject: "job \(job.id)",
            detail: ["kind": job.kind])
        return APIModel.JobBody(job)
    }

    @Sendable func retry(_ request: Request, context: IrisRequestContext) async throws -> APIModel.JobBody {
        let job = try await queue.retry(id: try Parameters.id(context, "jobID", noun: "job"))
        await audit.record(
            context.caller, .jobRetried, project: job.projectID, subject: "job \(job.id)", detail: ["kind": job.kind])
        return APIModel.JobBody(job)
    }

    /// Admins enqueue any registered kind (e.g. `maintenance.cleanup` now, or a `diagnostic`).
    @Sendable func enqueue(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<
        APIModel.JobBody
    > {
        let body = try IrisJSONDecoder.decode(
            EnqueueRequest.self, from: try await IrisJSONDecoder.body(of: request, context: context),
            convertingKeys: false)
        let payload = try body.payload.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) } ?? "{}"
        let queueName = body.queue ?? JobSettings.Queue.standard
        guard !queueName.isEmpty, queueName.count <= 64,
            queueName.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        else {
            throw Problem.badRequest("queue must be 1 to 64 letters, digits, - or _", field: "queue")
        }
        if let key = body.idempotencyKey, key.isEmpty || key.count > 200 {
            throw Problem.badRequest("idempotency_key must be 1 to 200 characters", field: "idempotency_key")
        }
        let priority = body.priority ?? 0
        guard (-1000...1000).contains(priority) else {
            throw Problem.badRequest("priority must be from -1000 to 1000", field: "priority")
        }
        let (job, created) = try await queue.enqueue(
            JobRequest(
                kind: body.kind, payload: payload, queue: queueName, priority: priority,
                maxAttempts: body.maxAttempts ?? 5,
                idempotencyKey: body.idempotencyKey))
        if created {
            await audit.record(context.caller, .jobEnqueued, subject: "job \(job.id)", detail: ["kind": job.kind])
        }
        return EditedResponse(status: created ? .created : .ok, response: APIModel.JobBody(job))
    }

    @Sendable func queues(_ request: Request, context: IrisRequestContext) async throws -> QueueList {
        let depths = try await store.jobs.depth()
        let names = Array(Set(depths.map(\.queue))).sorted()
        return QueueList(
            items: names.map { name in
                QueueList.Entry(
                    queue: name,
                    counts: Dictionary(
                        uniqueKeysWithValues: JobState.allCases.map { state in
                            (state.rawValue, depths.first { $0.queue == name && $0.state == state }?.count ?? 0)
                        }))
            },
            kinds: queue.registry.kinds)
    }
}

/// Any JSON value, passed through as it is (job payloads and results).
enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses stored JSON text; text that is not JSON is passed on as a string.
    static func parse(_ text: String?) -> JSONValue? {
        guard let text else { return nil }
        return (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .string(text)
    }
}
