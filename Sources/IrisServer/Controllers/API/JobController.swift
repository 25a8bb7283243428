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

    /// `GET /api/v1/jobs`: the caller's jobs through the filters of `JobQuery`, newest first,
    /// a keyset page (`next_cursor` is the last id shown).
    @Sendable func list(_ request: Request, context: IrisRequestContext) async throws -> APIModel.Page<APIModel.JobBody>
    {
        let query = try JobQuery(request)
        let limit = try Parameters.limit(request)
        let visible = try await guardian.visibleProjects(context.caller)
        let jobs = try await store.jobs.list(
            query.filter(visible: visible), before: try Parameters.cursor(request), limit: limit)
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

/// The filters of a list of jobs, as `GET /api/v1/jobs` and the jobs page take them:
/// `state`, `kind`, `project_id`, `created_since` and `created_before`, each optional and
/// combinable.
struct JobQuery: Sendable, Equatable {
    var state: JobState?
    var kind: String?
    var projectID: Int64?
    var createdSince: Date?
    var createdBefore: Date?

    init(
        state: JobState? = nil, kind: String? = nil, projectID: Int64? = nil, createdSince: Date? = nil,
        createdBefore: Date? = nil
    ) {
        (self.state, self.kind, self.projectID) = (state, kind, projectID)
        (self.createdSince, self.createdBefore) = (createdSince, createdBefore)
    }

    /// Reads the query; a value out of bounds is a 400 that names its parameter. With
    /// `emptyIsAny` (a form's "any" choice sends `state=`) an empty value is no filter;
    /// otherwise it is refused, as in the rest of the API.
    init(_ request: Request, emptyIsAny: Bool = false) throws {
        let query = request.uri.queryParameters
        func value(_ name: String) throws -> String? {
            guard let raw = query.get(name) else { return nil }
            if raw.isEmpty {
                if emptyIsAny { return nil }
                throw Problem.badRequest("\(name) must not be empty; leave it out for any", field: name)
            }
            return String(raw)
        }
        if let raw = try value("state") {
            guard let state = JobState(rawValue: raw) else {
                throw Problem.badRequest(
                    "state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(raw.prefix(40))\"",
                    field: "state")
            }
            self.state = state
        }
        if let kind = try value("kind") {
            guard kind.count <= 100 else { throw Problem.badRequest("kind must be 1 to 100 characters", field: "kind") }
            self.kind = kind
        }
        if let raw = try value("project_id") {
            guard raw.count <= 19, raw.allSatisfy(\.isASCII), let id = Int64(raw), id > 0 else {
                throw Problem.badRequest(
                    "project_id must be a project's id (a positive whole number), not \"\(raw.prefix(40))\"",
                    field: "project_id")
            }
            projectID = id
        }
        createdSince = try value("created_since").map { try Self.instant($0, field: "created_since") }
        createdBefore = try value("created_before").map { try Self.instant($0, field: "created_before") }
        if let since = createdSince, let before = createdBefore, since >= before {
            throw Problem.badRequest(
                "created_since must come before created_before (nothing is created in an empty interval)",
                field: "created_since")
        }
    }

    /// The store's filter: `projectID` narrows what the caller sees (`visible`, nil for all),
    /// so asking for another's project finds nothing rather than its jobs.
    func filter(visible: Set<Int64>?) -> JobFilter {
        var projects = visible.map { Array($0).sorted() }
        if let projectID { projects = (visible?.contains(projectID) ?? true) ? [projectID] : [] }
        return JobFilter(
            state: state, kind: kind, projectIDs: projects, createdSince: createdSince, createdBefore: createdBefore)
    }

    /// The query that selects the same jobs, for links (the next page, the page's own form).
    var items: [(name: String, value: String)] {
        var items: [(String, String)] = []
        if let state { items.append(("state", state.rawValue)) }
        if let kind { items.append(("kind", kind)) }
        if let projectID { items.append(("project_id", String(projectID))) }
        if let createdSince { items.append(("created_since", Self.text(createdSince))) }
        if let createdBefore { items.append(("created_before", Self.text(createdBefore))) }
        return items
    }

    /// A day (`2025-01-31`, from its start in UTC, as a date field sends it) or an instant with
    /// its zone (`2025-01-31T09:30:00Z`, `…+02:00`, fractions of a second allowed), years
    /// 1970 to 9999.
    static func instant(_ raw: String, field: String) throws -> Date {
        let refusal = Problem.badRequest(
            "\(field) must be a day (2025-01-31, UTC) or a time with its zone (2025-01-31T09:30:00Z), not \"\(raw.prefix(40))\"",
            field: field)
        // The form openapi.yaml documents, before the parser (which is laxer) reads it.
        guard raw.count <= 40,
            raw.wholeMatch(
                of: #/[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))?/#
            )
                != nil
        else { throw refusal }
        let full = raw.count == 10 ? raw + "T00:00:00Z" : raw
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: full.contains("."))
        guard let date = try? style.parse(full) else { throw refusal }
        // The parser rolls an impossible day over (2025-02-30 to March 2nd): the day written must
        // be the day read back.
        if raw.count == 10, date.formatted(.iso8601.year().month().day()) != raw { throw refusal }
        guard (Date(timeIntervalSince1970: 0)...Date(timeIntervalSince1970: 253_402_300_799)).contains(date) else {
            throw refusal
        }
        return date
    }

    /// How `instant` reads back: a day when it starts one (UTC), otherwise the instant.
    static func text(_ date: Date) -> String {
        let day = date.formatted(.iso8601.year().month().day())
        return date.timeIntervalSince1970.truncatingRemainder(dividingBy: 86_400) == 0
            ? day : date.formatted(.iso8601)
    }
}
