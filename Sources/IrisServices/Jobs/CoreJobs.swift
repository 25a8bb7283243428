import Foundation
import IrisBlobs
import IrisCore
import IrisStore

/// `image.thumbnails`: makes the thumbnail sizes an upload did not make itself.
struct ThumbnailJob: JobHandler {
    public static let kind = "image.thumbnails"

    public struct Payload: Codable, Sendable {
        public var sha256: String
    }

    public struct Output: Encodable, Sendable {
        public var made: [Int]
        /// Set when there was nothing to do because the image is gone.
        public var skipped: String?
    }

    public let library: ImageLibrary

    /// One thumbnail job per image, whichever upload or project asks.
    public static func key(sha256: String) -> String { "thumbnails:\(sha256)" }

    public static func request(sha256: String, projectID: Int64?) throws -> JobRequest {
        try JobRequest(
            kind: kind, encoding: Payload(sha256: sha256), queue: JobSettings.Queue.images,
            idempotencyKey: key(sha256: sha256),
            projectID: projectID)
    }

    public func validate(_ payload: Payload) throws {
        try ImageRecord.checkSHA256(payload.sha256, field: "payload.sha256")
    }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard try await library.store.images.find(sha256: payload.sha256) != nil else {
            return Output(made: [], skipped: "no stored image has this sha256 any more")
        }
        let made = try await library.makeThumbnails(sha256: payload.sha256, sizes: ImageLibrary.thumbnailSizes)
        return Output(made: made.keys.sorted(), skipped: nil)
    }
}

/// `maintenance.cleanup`: removes temporary files a running process abandoned, blobs no
/// image row refers to (left by a crash between blob and row, or a race between processes),
/// and finished jobs past their retention; and queues the automatic analyses stored images
/// never got (a crash in a version that queued them after the image's row).
struct CleanupJob: JobHandler {
    public static let kind = "maintenance.cleanup"

    public struct Payload: Codable, Sendable {
        /// Only files older than this many seconds are touched, so work in flight is safe.
        public var minAgeSeconds: Double?

        public enum CodingKeys: String, CodingKey { case minAgeSeconds = "min_age_seconds" }
    }

    public struct Output: Encodable, Sendable {
        public var staleTemporaryFiles: Int
        public var orphanBlobs: Int
        public var prunedJobs: Int
        public var requeuedAnalyses: Int
        /// Export zips removed after `ExportJob.retentionHours`.
        public var expiredExports: Int
        /// Rejected photos taken out of their project after its retention (`reject_retention_days`).
        public var expiredRejections: Int

        public enum CodingKeys: String, CodingKey {
            case staleTemporaryFiles = "stale_temporary_files"
            case orphanBlobs = "orphan_blobs"
            case prunedJobs = "pruned_jobs"
            case requeuedAnalyses = "requeued_analyses"
            case expiredExports = "expired_exports"
            case expiredRejections = "expired_rejections"
        }
    }

    public let library: ImageLibrary
    public let scratch: ScratchSpace
    public let retentionDays: Double
    public let followUps: FollowUpJobs
    /// Images checked per query of the sweep for lost analyses.
    public static let sweepPage = 500

    public func validate(_ payload: Payload) throws {
        if let age = payload.minAgeSeconds, age < 0 {
            throw Refusal.invalid("min_age_seconds must not be negative", field: "payload.min_age_seconds")
        }
    }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        let cutoff = Date().addingTimeInterval(-(payload.minAgeSeconds ?? 3600))
        // Scratch files, and (S3) multipart uploads a process that died left unfinished.
        let stale =
            scratch.removeStale(modifiedBefore: cutoff)
            + (try await library.blobs.removeUnfinished(startedBefore: cutoff))
        context.report(progress: 0.1, message: "looking for orphan blobs")
        let candidates = Array(try await library.blobs.storedHashes(modifiedBefore: cutoff)).sorted()
        var orphans = 0
        for (index, sha256) in candidates.enumerated() {
            try context.checkCancellation()
            if try await library.removeIfOrphan(sha256) { orphans += 1 }
            if index % 200 == 0 {
                context.report(
                    progress: 0.1 + 0.8 * Double(index) / Double(candidates.count),
                    message: "checked \(index) of \(candidates.count) images")
            }
        }
        context.report(progress: 0.9, message: "looking for images whose analyses were never queued")
        let requeued = try await requeueLostAnalyses(context)
        let expired = try await ExportJob.expire(store: library.store, blobs: library.blobs)
        // Rejected photos leave their project once its retention has passed (blobs with them
        // when no other project holds the photo).
        let rejections = try await library.store.reviews.expiredRejections(now: Date(), limit: 1000)
        for (projectID, sha256) in rejections { try await library.remove(sha256: sha256, from: projectID) }
        let pruned = try await library.store.jobs.prune(
            finishedBefore: Date().addingTimeInterval(-retentionDays * 86400))
        // A day of the search change log is kept; an index further behind rebuilds itself.
        _ = try await library.store.search.pruneChanges(before: Date().addingTimeInterval(-86400))
        return Output(
            staleTemporaryFiles: stale, orphanBlobs: orphans, prunedJobs: pruned, requeuedAnalyses: requeued,
            expiredExports: expired, expiredRejections: rejections.count)
    }

    /// Every stored image, a page at a time: the automatic analyses with neither a job (in any
    /// state) nor a result are queued. Thumbnails are left to the thumbnail route, which makes
    /// missing sizes on demand.
    public func requeueLostAnalyses(_ context: JobContext) async throws -> Int {
        guard !followUps.autoModels.isEmpty else { return 0 }
        let store = library.store
        var cursor: String?
        var queued = 0
        while true {
            try context.checkCancellation()
            let page = try await store.images.page(after: cursor, limit: Self.sweepPage)
            guard let last = page.last else { break }
            let missing = try await followUps.missing(for: page, in: store, blobs: nil)
            if !missing.isEmpty { queued += try await store.jobs.enqueue(missing).count }
            cursor = last.sha256
        }
        return queued
    }
}

/// `diagnostic`: a self-test for operators (`iris jobs enqueue diagnostic`): sleeps,
/// reports progress, and fails its first `fail_attempts` attempts. No-op with defaults;
/// the job-queue benchmark and tests use it.
public struct DiagnosticJob: JobHandler {
    public static let kind = "diagnostic"

    public init() {}

    public struct Payload: Codable, Sendable {
        public var seconds: Double?
        public var failAttempts: Int?
        /// Fail every attempt with a `failed` (not retried) outcome.
        public var permanent: Bool?

        public enum CodingKeys: String, CodingKey {
            case seconds
            case failAttempts = "fail_attempts"
            case permanent
        }
    }

    public struct Output: Encodable, Sendable {
        public var attempt: Int
        public var worker: String?
    }

    public func validate(_ payload: Payload) throws {
        if let seconds = payload.seconds, !(0...3600).contains(seconds) {
            throw Refusal.invalid("seconds must be between 0 and 3600", field: "payload.seconds")
        }
        if let failures = payload.failAttempts, failures < 0 {
            throw Refusal.invalid("fail_attempts must not be negative", field: "payload.fail_attempts")
        }
    }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        if payload.permanent == true { throw PermanentJobFailure("diagnostic job told to fail permanently") }
        let seconds = payload.seconds ?? 0
        let steps = max(Int(seconds * 10), 1)
        if seconds > 0 {
            for step in 1...steps {
                try await Task.sleep(for: .seconds(seconds / Double(steps)))
                context.report(progress: Double(step) / Double(steps), message: "step \(step) of \(steps)")
            }
        }
        if context.job.attempts <= payload.failAttempts ?? 0 {
            throw DiagnosticFailure(attempt: context.job.attempts)
        }
        return Output(attempt: context.job.attempts, worker: context.job.leaseOwner)
    }

    struct DiagnosticFailure: Error, CustomStringConvertible {
        public let attempt: Int
        public var description: String { "diagnostic failure on attempt \(attempt)" }
    }
}
