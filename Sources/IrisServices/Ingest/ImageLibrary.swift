public import Foundation
public import IrisBlobs
public import IrisCore
public import IrisImaging
public import IrisStore
public import Logging
public import NIOPosix

/// A file fully received into scratch space and hashed, ready to be ingested.
public struct StagedUpload: Sendable {
    public var url: URL
    public var sha256: String
    public var byteCount: Int64
    public var originalName: String?

    public init(url: URL, sha256: String, byteCount: Int64, originalName: String?) {
        self.url = url
        self.sha256 = sha256
        self.byteCount = byteCount
        self.originalName = originalName
    }
}

/// The result of ingesting one file.
public struct IngestOutcome: Sendable {
    public init(member: ProjectImage, duplicate: Bool, alreadyInProject: Bool, addedLabels: [Label] = []) {
        self.member = member
        self.duplicate = duplicate
        self.alreadyInProject = alreadyInProject
        self.addedLabels = addedLabels
    }

    init(_ addition: ImageAddition, duplicate: Bool) {
        self.init(
            member: addition.member, duplicate: duplicate, alreadyInProject: addition.alreadyInProject,
            addedLabels: addition.addedLabels)
    }

    public var member: ProjectImage
    /// The bytes were already stored in Iris.
    public var duplicate: Bool
    /// The image was already in this project.
    public var alreadyInProject: Bool
    /// The labels this upload gave the project's copy: all of them for a new member, the
    /// missing ones when the photo was already in the project.
    public var addedLabels: [Label]
}

/// The stored images and their blobs, over their whole life: a staged file becomes a stored
/// image in a project (the one path every upload, import and CLI import takes), its
/// thumbnails and hash are made from the original, and an image leaves a project (or a
/// project is deleted) with the blobs no other project holds.
///
/// Order matters for crash safety: the original blob is made durable first, then the
/// small thumbnail, and only then the database row, so a row never points to a missing
/// blob. A crash in between leaves an unreferenced blob at worst, never a broken row; the
/// cleanup job removes such orphans.
///
/// The request decodes the whole image once, at the smallest thumbnail size: that
/// decode is the check that the file is not truncated or corrupt, and its product is
/// the gallery thumbnail. The larger sizes are made by an `image.thumbnails` job, so the
/// upload returns as soon as the original is safe.
public struct ImageLibrary: Sendable {
    public static let thumbnailSizes = [1024, 256]
    /// Made during the upload, by the decode that verifies the image.
    public static let uploadThumbnailSize = 256

    public let store: IrisStore
    public let blobs: any BlobStore
    public let inspector: ImageInspector
    public let threads: NIOThreadPool
    /// The lock an upload and a deletion of the same bytes take, across every process sharing
    /// the database (`IrisDatabase.withExclusiveLock`).
    public var locks: IrisDatabase { store.database }
    public let metrics: IrisMetrics
    public let logger = Logger(label: "iris.ingest")
    /// False in demo mode: files are checked and thumbnailed as usual, then discarded.
    public let keep: Bool
    /// What becomes of a new image's larger thumbnail and automatic analyses.
    public enum FollowUp: Sendable {
        /// Queued as jobs on the queue (`FollowUpJobs` says which): a server or a worker.
        case queued(JobQueue, FollowUpJobs)
        /// Every thumbnail made during the upload, nothing queued: a process that runs no
        /// queue (`iris import`, `iris learn add`).
        case inline
    }

    public let followUp: FollowUp

    public init(
        store: IrisStore, blobs: any BlobStore, inspector: ImageInspector, threads: NIOThreadPool,
        metrics: IrisMetrics = IrisMetrics(), keep: Bool = true, followUp: FollowUp
    ) {
        self.keep = keep
        self.followUp = followUp
        self.store = store
        self.blobs = blobs
        self.inspector = inspector
        self.threads = threads
        self.metrics = metrics
    }

    /// Checks human labels against the project's label set and normalises them.
    public static func humanLabels(_ names: [String], for project: Project) throws -> [Label] {
        var seen = Set<String>()
        var labels: [Label] = []
        for raw in names {
            let name = try NameRules.validated(raw, field: "label", maxLength: NameRules.maxLabel)
            if let allowed = project.labelSet, !allowed.contains(name) {
                throw Refusal.invalid(
                    "label \"\(name)\" is not in project \(project.name)'s label set: \(allowed.joined(separator: ", "))",
                    field: "label")
            }
            if seen.insert(name).inserted { labels.append(Label(name: name)) }
        }
        return labels
    }

    /// Ingests `staged` into `project`. The staged file is always consumed: moved into
    /// the store, or deleted when the bytes are a duplicate or are refused. `review` is the
    /// state a new membership starts in (`pending` when the project reviews this sender).
    public func ingest(
        _ staged: StagedUpload, into project: Project, labels: [Label], linkID: Int64? = nil,
        review: ReviewState = .accepted, events: @escaping @Sendable (IngestOutcome) -> [Event] = { _ in [] }
    ) async throws -> IngestOutcome {
        defer { try? FileManager.default.removeItem(at: staged.url) }
        if !keep { return try await preview(staged, into: project, labels: labels) }
        do {
            let outcome = try await locks.withExclusiveLock(staged.sha256) {
                if let existing = try await store.images.find(sha256: staged.sha256) {
                    // Same bytes, already known: repair the blob if it was lost, then join the project.
                    if try await blobs.size(of: .original(staged.sha256)) == nil {
                        try await blobs.put(.original(staged.sha256), movingFileAt: staged.url)
                    }
                    let addition = try await store.images.add(
                        existing, to: project.id, labels: labels, originalName: staged.originalName, linkID: linkID,
                        review: review, jobs: [], events: { events(IngestOutcome($0, duplicate: true)) })
                    await repairFollowUps(staged.sha256, projectID: project.id)
                    return IngestOutcome(addition, duplicate: true)
                }
                return try await ingestNew(
                    staged, into: project, labels: labels, linkID: linkID, review: review, events: events)
            }
            metrics.upload(outcome: outcome.duplicate ? "duplicate" : "created")
            return outcome
        } catch {
            metrics.upload(outcome: "rejected")
            throw error
        }
    }

    /// Demo mode: the same checks and thumbnails as a real upload, and an answer shaped like
    /// one, but no blob, row or event is written.
    private func preview(_ staged: StagedUpload, into project: Project, labels: [Label]) async throws -> IngestOutcome {
        let existing = try await store.images.find(sha256: staged.sha256)
        let inspector = self.inspector
        let path = staged.url.path
        let probe = try await threads.runIfActive {
            let probe = try inspector.probe(path: path)
            _ = try inspector.thumbnails(path: path, sizes: [Self.uploadThumbnailSize])
            return probe
        }
        let record =
            existing
            ?? ImageRecord(
                sha256: staged.sha256, format: probe.format, width: probe.width, height: probe.height,
                bytes: staged.byteCount,
                capturedAt: probe.capturedAt, createdAt: Date())
        let member = ProjectImage(
            image: record, projectID: project.id, labels: labels, originalName: staged.originalName, addedAt: Date())
        return IngestOutcome(
            member: member, duplicate: existing != nil, alreadyInProject: false, addedLabels: labels)
    }

    private func ingestNew(
        _ staged: StagedUpload, into project: Project, labels: [Label], linkID: Int64?, review: ReviewState,
        events: @escaping @Sendable (IngestOutcome) -> [Event]
    ) async throws -> IngestOutcome {
        let inspector = self.inspector
        let path = staged.url.path
        let sizes: [Int] =
            switch followUp {
            case .queued: [Self.uploadThumbnailSize]
            case .inline: Self.thumbnailSizes
            }
        // libvips blocks while it decodes: keep it off the event loops and the cooperative pool.
        let (probe, thumbnails) = try await threads.runIfActive {
            let probe = try inspector.probe(path: path)
            return (probe, try inspector.thumbnails(path: path, sizes: sizes))
        }
        try await blobs.put(.original(staged.sha256), movingFileAt: staged.url)
        for (size, data) in thumbnails {
            try await blobs.put(.thumbnail(staged.sha256, size: size), data: data)
        }
        metrics.stored(bytes: staged.byteCount)
        let record = ImageRecord(
            sha256: staged.sha256, format: probe.format, width: probe.width, height: probe.height,
            bytes: staged.byteCount, capturedAt: probe.capturedAt, createdAt: Date())
        // The row and its follow-up jobs commit together: a crash cannot leave an image that
        // nothing will thumbnail or analyse (kill -9 during uploads once left 5 of 52 so).
        var followUpJobs: [JobRequest] = []
        if case .queued(let jobs, let followUps) = followUp {
            followUpJobs = try followUps.requests(sha256: staged.sha256, projectID: project.id)
            for request in followUpJobs { try jobs.registry.validate(request) }
        }
        let addition = try await store.images.add(
            record, to: project.id, labels: labels, originalName: staged.originalName, linkID: linkID, review: review,
            jobs: followUpJobs, events: { events(IngestOutcome($0, duplicate: $0.imageExisted)) })
        if !followUpJobs.isEmpty, case .queued(let jobs, _) = followUp { jobs.wake() }
        return IngestOutcome(addition, duplicate: addition.imageExisted)
    }

    /// Queues the follow-up jobs a stored image never got (left by a crash in a version that
    /// queued them after the row): a repeated upload of the same bytes repairs the gap.
    /// Failing to do so is logged; the upload itself has succeeded.
    private func repairFollowUps(_ sha256: String, projectID: Int64) async {
        guard case .queued(let jobs, let followUps) = followUp else { return }
        do {
            let missing = try await followUps.missing(for: [(sha256, projectID)], in: store, blobs: blobs)
            if !missing.isEmpty {
                try await jobs.enqueue(missing)
                logger.notice(
                    "queued jobs an earlier upload of this image never got",
                    metadata: ["sha256": "\(sha256)", "jobs": "\(missing.count)"])
            }
        } catch {
            logger.error(
                "cannot check this image's follow-up jobs",
                metadata: ["sha256": "\(sha256)", "error": "\(String(reflecting: error))"])
        }
    }

    /// Removes an image from a project, and its blobs when no project holds it any more.
    public func remove(sha256: String, from projectID: Int64) async throws {
        try await locks.withExclusiveLock(sha256) {
            if try await store.images.remove(sha256: sha256, from: projectID) {
                try await deleteBlobs(sha256)
            }
        }
    }

    /// Deletes a project; blobs of images no other project holds go with it.
    public func deleteProject(id: Int64) async throws {
        let orphans = try await store.projects.delete(id: id)
        for sha256 in orphans {
            try await locks.withExclusiveLock(sha256) {
                // Re-check under the lock: the same bytes may have been uploaded again meanwhile.
                if try await store.images.find(sha256: sha256) == nil { try await deleteBlobs(sha256) }
            }
        }
    }

    /// Deletes the blobs of `sha256` when no image row refers to it; answers whether it did.
    public func removeIfOrphan(_ sha256: String) async throws -> Bool {
        try await locks.withExclusiveLock(sha256) {
            guard try await store.images.find(sha256: sha256) == nil else { return false }
            try await deleteBlobs(sha256)
            return true
        }
    }

    public func deleteBlobs(_ sha256: String) async throws {
        try await blobs.delete(.original(sha256))
        for size in Self.thumbnailSizes { try await blobs.delete(.thumbnail(sha256, size: size)) }
    }

    /// The JPEG thumbnail, made from the original and cached if it is missing.
    public func thumbnail(sha256: String, size: Int) async throws -> Data? {
        if let data = try await blobs.data(for: .thumbnail(sha256, size: size)) { return data }
        if let made = try await makeThumbnails(sha256: sha256, sizes: [size])[size] { return made }
        // A thumbnail job made it while this request waited for the image's lock.
        return try await blobs.data(for: .thumbnail(sha256, size: size))
    }

    /// The image's difference hash, from its 256 px thumbnail (made if missing); nil when the
    /// image is gone.
    public func perceptualHash(sha256: String) async throws -> UInt64? {
        guard let thumbnail = try await thumbnail(sha256: sha256, size: Self.uploadThumbnailSize) else { return nil }
        return try await threads.runIfActive { try PerceptualHash.difference(of: thumbnail) }
    }

    /// Makes the thumbnails of `sizes` that are missing (all from one decode) and stores
    /// them; answers what it made. Nothing when the original is gone.
    public func makeThumbnails(sha256: String, sizes: [Int]) async throws -> [Int: Data] {
        // Under the image's lock, so a removal cannot leave a thumbnail behind.
        try await locks.withExclusiveLock(sha256) { try await makeThumbnailsLocked(sha256: sha256, sizes: sizes) }
    }

    private func makeThumbnailsLocked(sha256: String, sizes: [Int]) async throws -> [Int: Data] {
        var absent: [Int] = []
        for size in sizes where try await blobs.size(of: .thumbnail(sha256, size: size)) == nil { absent.append(size) }
        let missing = absent
        guard !missing.isEmpty, let path = try await blobs.localFile(for: .original(sha256)),
            FileManager.default.fileExists(atPath: path)
        else { return [:] }
        let inspector = self.inspector
        let made = try await threads.runIfActive { try inspector.thumbnails(path: path, sizes: missing) }
        for (size, data) in made { try await blobs.put(.thumbnail(sha256, size: size), data: data) }
        return made
    }
}
