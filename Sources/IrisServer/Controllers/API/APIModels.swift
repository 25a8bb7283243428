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
        /// Whether repairs take patches from the project's similar photos unless they say.
        var repairDomain: Bool
        /// Which uploads wait for review (`off`, `links`, `contributors`).
        var review: ReviewPolicy
        var rejectRetentionDays: Int
        var createdAt: Date
        var updatedAt: Date

        init(_ project: Project) {
            (id, name, description, labelSet) = (project.id, project.name, project.description, project.labelSet)
            moderationThreshold = project.moderationThreshold
            repairDomain = project.repairDomain
            (review, rejectRetentionDays) = (project.review, project.rejectRetentionDays)
            (createdAt, updatedAt) = (project.createdAt, project.updatedAt)
        }
    }

    struct SimilarBody: ResponseEncodable {
        struct Item: Codable, Sendable {
            var sha256: String
            /// A project the caller may see it in.
            var projectId: Int64
            /// The name it was uploaded under in that project.
            var originalName: String?
            /// Cosine similarity of the two embeddings, from −1 to 1 (1: the same direction).
            var similarity: Double
            /// 1 − similarity.
            var distance: Double
            var urls: ImageURLs
        }
        /// The model whose embeddings were compared; null when the image has none yet.
        var model: String?
        /// The model's cosine below which a photo is not called similar.
        var similarAbove: Double?
        var items: [Item]
        /// Why there are no items, when that is not "nothing is similar".
        var detail: String?
    }

    struct DuplicatesBody: ResponseEncodable {
        struct Image: Codable, Sendable {
            var sha256: String
            var pixels: Int64
            /// Bits of 64 its difference hash differs from the group's first image's (null: no hash).
            var hashDistance: Int?
            /// Cosine similarity of its embedding to the first image's (null: no embedding compared).
            var similarity: Double?
            var urls: ImageURLs
        }
        struct Group: Codable, Sendable {
            /// The suggested one to keep (the most pixels); also `images[0]`.
            var keep: String
            var images: [Image]
        }
        var groups: [Group]
        var imagesChecked: Int
        /// False when the project has more images than one look compares.
        var complete: Bool
        /// Images whose hash is not made yet (a later look includes them).
        var imagesUnhashed: Int
        /// The model whose embeddings were compared (null: none).
        var model: String?
        var hashDistance: Int
        var similarity: Double
    }

    struct MergeBody: ResponseEncodable {
        var kept: String
        var removed: [String]
        /// The kept image's labels afterwards.
        var labels: [LabelBody]
    }

    struct SearchBody: ResponseEncodable {
        struct Term: Codable, Sendable {
            var text: String
            /// Whether WordNet knows it as a noun (its classes beneath are searched).
            var wordnet: Bool
        }
        struct Reason: Codable, Sendable {
            /// `model_label`, `label` or `text`.
            var kind: String
            var term: String
            var matched: String
            /// For a model label: from its class up to the term (`tabby`, …, `mammal`).
            var path: [String]
            var score: Double
        }
        struct Item: Codable, Sendable {
            var sha256: String
            var projectId: Int64
            /// 0 to 1: the mean over the terms of each term's best evidence.
            var score: Double
            var reasons: [Reason]
            var urls: ImageURLs
        }
        var query: String
        var terms: [Term]
        var items: [Item]
        var nextCursor: String?
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
        /// In a project: where the photo stands in its review (`accepted`, `pending`, `rejected`).
        var review: ReviewState?

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
            review = member.review
        }
    }

    struct UploadBody: ResponseEncodable {
        var sha256: String
        var duplicate: Bool
        var image: ImageBody
        /// The labels this upload gave the project's copy (a photo sent again with a new label
        /// gets it; one it already had is not repeated here).
        var labelsAdded: [String]
    }

    struct CheckBody: ResponseEncodable {
        /// The hashes asked about that are images of the project already, in the order asked.
        var present: [String]
        /// The others: the ones to upload.
        var missing: [String]
    }

    struct ImportBody: ResponseEncodable {
        var imported: Int
        var duplicates: Int
        var skipped: [ImportReport.Skipped]
        var labels: [String: Int]
        /// The layout the zip was read as.
        var format: String
        /// Labels added to the project's label set (`create_labels`).
        var createdLabels: [String]

        init(_ report: ImportReport) {
            (imported, duplicates, skipped, labels) = (
                report.imported, report.duplicates, report.skipped, report.labels
            )
            (format, createdLabels) = ((report.format ?? .imagefolder).rawValue, report.createdLabels)
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

    /// For PATCH fields where `null` means something (clear it): nil when absent, `.some(nil)`
    /// for an explicit `null`, `.some(value)` otherwise.
    func decodeClearable<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T?? {
        guard contains(key) else { return nil }
        return try decodeNil(forKey: key) ? .some(nil) : .some(try decode(type, forKey: key))
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
