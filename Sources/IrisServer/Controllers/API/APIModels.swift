public import Foundation
import Hummingbird
public import IrisCore
import IrisServices
import IrisStore

/// JSON shapes of `/api/v1`, in Swift; `openapi.yaml` describes the same shapes.
enum APIModel {
    struct ProjectBody: ResponseEncodable {
        var id: Int64
        var name: String
        var description: String
        var labelSet: [String]?
        /// The project's own threshold; null means the server's `moderation.threshold`.
        var moderationThreshold: Double?
        var createdAt: Date
        var updatedAt: Date

        init(_ project: Project) {
            (id, name, description, labelSet) = (project.id, project.name, project.description, project.labelSet)
            moderationThreshold = project.moderationThreshold
            (createdAt, updatedAt) = (project.createdAt, project.updatedAt)
        }
    }

    struct Page<Item: Encodable & Sendable>: ResponseEncodable {
        var items: [Item]
        var nextCursor: String?
    }

    struct ImageURLs: Codable, Sendable {
        var original: String
        var thumbnail256: String
        var thumbnail1024: String

        enum CodingKeys: String, CodingKey {
            case original
            case thumbnail256 = "thumbnail_256"
            case thumbnail1024 = "thumbnail_1024"
        }

        init(sha256: String) {
            original = "/api/v1/images/\(sha256)/original"
            thumbnail256 = "/api/v1/images/\(sha256)/thumbnail?size=256"
            thumbnail1024 = "/api/v1/images/\(sha256)/thumbnail?size=1024"
        }
    }

    struct LabelBody: Codable, Sendable {
        var name: String
        var source: String
        var confidence: Double?

        init(_ label: Label) { (name, source, confidence) = (label.name, label.source, label.confidence) }
    }

    struct MembershipBody: Codable, Sendable {
        var projectId: Int64
        var projectName: String
        var labels: [LabelBody]
        var addedAt: Date
    }

    /// An image; the project fields are present when it is shown as a member of one project.
    struct ImageBody: ResponseEncodable {
        var sha256: String
        var format: String
        var mediaType: String
        var width: Int
        var height: Int
        var bytes: Int64
        var capturedAt: Date?
        var createdAt: Date
        var urls: ImageURLs
        var projectId: Int64?
        var labels: [LabelBody]?
        var originalName: String?
        var addedAt: Date?
        var projects: [MembershipBody]?
        /// The moderation model's score, once it has run (0…1, higher is less safe).
        var moderation: Double?

        init(_ image: ImageRecord) {
            sha256 = image.sha256
            moderation = image.moderation
            format = image.format.rawValue
            mediaType = image.format.mediaType
            (width, height, bytes) = (image.width, image.height, image.bytes)
            (capturedAt, createdAt) = (image.capturedAt, image.createdAt)
            urls = ImageURLs(sha256: image.sha256)
        }

        init(_ member: ProjectImage) {
            self.init(member.image)
            projectId = member.projectID
            labels = member.labels.map(LabelBody.init)
            originalName = member.originalName
            addedAt = member.addedAt
        }
    }

    struct UploadBody: ResponseEncodable {
        var sha256: String
        var duplicate: Bool
        var image: ImageBody
    }

    struct ImportBody: ResponseEncodable {
        var imported: Int
        var duplicates: Int
        var skipped: [ImportReport.Skipped]
        var labels: [String: Int]

        init(_ report: ImportReport) {
            (imported, duplicates, skipped, labels) = (
                report.imported, report.duplicates, report.skipped, report.labels
            )
        }
    }
}

extension KeyedDecodingContainer {
    /// Like `decodeIfPresent`, but an explicit `null` is an error naming the field rather
    /// than silently meaning "absent".
    func decodeIfPresentNotNull<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key) else { return nil }
        if try decodeNil(forKey: key) {
            throw DecodingError.valueNotFound(
                type, .init(codingPath: codingPath + [key], debugDescription: "null is not allowed"))
        }
        return try decode(type, forKey: key)
    }
}

/// Parsing of path and query parameters into 400s that name the parameter.
enum Parameters {
    static func projectID(_ context: some RequestContext) throws -> Int64 {
        let raw = context.parameters.get("id") ?? ""
        guard let id = Int64(raw), id > 0 else {
            throw Problem.badRequest("project id must be a positive integer, not \"\(raw)\"", field: "id")
        }
        return id
    }

    static func sha256(_ context: some RequestContext) throws -> String {
        let raw = context.parameters.get("sha256") ?? ""
        try checkSHA256(raw, field: "sha256")
        return raw
    }

    static func checkSHA256(_ raw: String, field: String) throws {
        try ImageRecord.checkSHA256(raw, field: field)
    }

    /// A positive integer id from the route parameter `name`.
    static func id(_ context: some RequestContext, _ name: String, noun: String) throws -> Int64 {
        let raw = context.parameters.get(name) ?? ""
        guard let id = Int64(raw), id > 0 else {
            throw Problem.badRequest("\(noun) id must be a positive integer, not \"\(raw.prefix(40))\"", field: name)
        }
        return id
    }

    static func limit(_ request: Request, default value: Int = 50, max: Int = 500) throws -> Int {
        guard let raw = request.uri.queryParameters.get("limit") else { return value }
        guard let limit = Int(raw), (1...max).contains(limit) else {
            throw Problem.badRequest(
                "limit must be a whole number from 1 to \(max), not \"\(raw.prefix(40))\"", field: "limit")
        }
        return limit
    }

    /// An optional `expires_in_days` (1–3650) as the date it names.
    static func expiry(days: Int?) throws -> Date? {
        guard let days else { return nil }
        guard (1...3650).contains(days) else {
            throw Problem.badRequest("expires_in_days must be from 1 to 3650", field: "expires_in_days")
        }
        return Date().addingTimeInterval(Double(days) * 86_400)
    }

    /// A cursor is a row position as decimal digits. Clients should treat it as opaque;
    /// it is plain so that every well-formed cursor is a valid one (any digits page from there).
    static func cursor(_ request: Request) throws -> Int64? {
        guard let raw = request.uri.queryParameters.get("cursor") else { return nil }
        guard !raw.isEmpty, raw.count <= 18, raw.allSatisfy(\.isASCII), let position = Int64(raw), position >= 0 else {
            throw Problem.badRequest(
                "cursor must be the next_cursor of an earlier page, not \"\(raw.prefix(40))\"", field: "cursor")
        }
        return position
    }

    /// A query parameter, or nil when absent or empty.
    static func nonEmpty(_ request: Request, _ name: String) -> String? {
        guard let value = request.uri.queryParameters.get(name), !value.isEmpty else { return nil }
        return String(value)
    }

    static func encodeCursor(_ position: Int64?) -> String? {
        position.map(String.init)
    }
}

extension APIModel {
    /// A job as the API shows it; `runs` (each attempt) only on `GET /jobs/{id}`.
    struct JobBody: ResponseEncodable {
        var id: Int64
        var kind: String
        var queue: String
        var state: String
        var priority: Int
        var attempts: Int
        var maxAttempts: Int
        var runAfter: Date
        var progress: Double
        var progressMessage: String?
        var payload: JSONValue?
        var result: JSONValue?
        var error: String?
        var idempotencyKey: String?
        var cancelRequested: Bool
        var projectID: Int64?
        var createdAt: Date
        var startedAt: Date?
        var finishedAt: Date?
        var runs: [RunBody]?

        enum CodingKeys: String, CodingKey {
            case id, kind, queue, state, priority, attempts, maxAttempts, runAfter, progress, progressMessage, payload,
                result, error
            case idempotencyKey, cancelRequested
            case projectID = "projectId"
            case createdAt, startedAt, finishedAt, runs
        }

        init(_ job: Job, runs: [JobRun]? = nil) {
            (id, kind, queue, state, priority) = (job.id, job.kind, job.queue, job.state.rawValue, job.priority)
            (attempts, maxAttempts, runAfter, progress, progressMessage) = (
                job.attempts, job.maxAttempts, job.runAfter, job.progress, job.progressMessage
            )
            (payload, result, error) = (JSONValue.parse(job.payload), JSONValue.parse(job.result), job.error)
            (idempotencyKey, cancelRequested, projectID) = (job.idempotencyKey, job.cancelRequested, job.projectID)
            (createdAt, startedAt, finishedAt) = (job.createdAt, job.startedAt, job.finishedAt)
            self.runs = runs.map { $0.map(RunBody.init) }
        }
    }

    struct RunBody: Encodable, Sendable {
        var attempt: Int
        var worker: String
        var startedAt: Date
        var finishedAt: Date?
        var outcome: String
        var error: String?
        var detail: String?

        init(_ run: JobRun) {
            (attempt, worker, startedAt, finishedAt) = (run.attempt, run.worker, run.startedAt, run.finishedAt)
            (outcome, error, detail) = (run.outcome, run.error, run.detail)
        }
    }
}

/// A job as `GET /api/v1/jobs/{id}` shows it, for `iris jobs show`.
public enum JobDocument {
    public static func json(_ job: Job, runs: [JobRun]) throws -> Data {
        let encoder = IrisJSON.makeEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(APIModel.JobBody(job, runs: runs))
    }
}
