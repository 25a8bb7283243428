import Crypto
public import Foundation
public import IrisBlobs
public import IrisCore
public import IrisImaging
public import IrisML
public import IrisStore
import NIOConcurrencyHelpers

/// Repairs of a project's photos: a request is checked and kept (the mask as a blob, a row
/// in `repairs`) and queued as an `image.repair` job, which stores the repaired photo as a new
/// image of the project. Every request and outcome is an event.
public struct RepairService: Sendable {
    public init(
        methods: RepairMethods, scratch: ScratchSpace, repairer: Repairer, queue: JobQueue, library: ImageLibrary,
        audit: AuditLog
    ) {
        self.methods = methods
        self.scratch = scratch
        self.repairer = repairer
        self.queue = queue
        self.library = library
        self.audit = audit
    }

    /// The methods a request may name, and a built-in repair's domain photos.
    public let methods: RepairMethods
    public var store: IrisStore { methods.store }
    public var blobs: any BlobStore { methods.blobs }
    public let scratch: ScratchSpace
    public let repairer: Repairer
    /// Where repair jobs go.
    let queue: JobQueue
    /// What stores a repaired photo in its project.
    let library: ImageLibrary
    /// Where every request and outcome is recorded (as "iris repairer").
    let audit: AuditLog

    /// Which project a repair goes to: the one named, if the caller may repair there (whether
    /// the image is in a project they cannot see is not revealed), else the only one they may
    /// repair in; several and none named is a 400 naming `project_id`.
    public static func project(for sha256: String, named: Int64?, among allowed: [Int64]) throws -> Int64 {
        if let named {
            guard allowed.contains(named) else {
                throw Refusal.notFound(
                    "no image has sha256 \(sha256) in project \(named) among those you may repair in")
            }
            return named
        }
        guard allowed.count == 1, let only = allowed.first else {
            throw Refusal.invalid(
                "the image is in several of your projects: name one in project_id", field: "project_id")
        }
        return only
    }

    /// Checks a request and queues it: 404 when the project has no such image, 400 for a bad
    /// mask or method. Nothing is stored for a refused request.
    public func request(
        sha256: String, project: Project, maskPath: String, method: String?, domain: Bool, seed: UInt64?,
        requestedBy: String
    ) async throws -> (repair: RepairRecord, job: Job) {
        let method = method ?? RepairMethods.builtIn
        let names = methods.names
        guard names.contains(method) else {
            throw Refusal.invalid(
                "method must be one of \(names.joined(separator: ", ")), not \"\(method.prefix(60))\"",
                field: "method")
        }
        guard let member = try await store.images.member(sha256: sha256, of: project.id) else {
            throw Refusal.notFound("project \(project.name) has no image \(sha256)")
        }
        let repairer = self.repairer
        let (width, height) = (member.image.width, member.image.height)
        let (png, _) = try await offloadBlocking {
            try repairer.checkedMask(path: maskPath, width: width, height: height)
        }
        let maskSHA256 = SHA256.hash(data: png).lowercaseHex
        try await blobs.put(.mask(maskSHA256), data: png)
        let repair = try await store.repairs.add(
            RepairRecord(
                projectID: project.id, sourceSHA256: sha256, maskSHA256: maskSHA256, method: method, domain: domain,
                seed: seed ?? UInt64.random(in: 1...UInt64(Int32.max)), requestedBy: requestedBy, createdAt: Date()))
        do {
            let (job, _) = try await queue.enqueue(
                try JobRequest(
                    kind: RepairJob.kind, encoding: RepairJob.Payload(repairId: repair.id), queue: JobSettings.Queue.ml,
                    maxAttempts: 2, projectID: project.id))
            try await store.repairs.setJob(id: repair.id, jobID: job.id)
            var queued = repair
            queued.jobID = job.id
            return (queued, job)
        } catch {
            try? await store.repairs.finish(
                id: repair.id, state: .failed, result: nil, error: "the repair could not be queued", timings: nil)
            throw error
        }
    }

    /// Takes a repair's result out of its project (the image goes when no project holds it)
    /// and marks the repair discarded.
    public func discardResult(_ repair: RepairRecord, sha256: String) async throws {
        if try await store.images.member(sha256: sha256, of: repair.projectID) != nil {
            try await library.remove(sha256: sha256, from: repair.projectID)
        }
        try await store.repairs.discard(id: repair.id)
    }

    /// Timings and sizes of one repair, kept as JSON in its row.
    public struct Timings: Codable, Sendable {
        public var seconds: Double
        public var maskedPixels: Int
        public var workingPixels: Int
        public var regions: Int
        public var domainPhotos: Int

        public enum CodingKeys: String, CodingKey {
            case seconds
            case maskedPixels = "masked_pixels"
            case workingPixels = "working_pixels"
            case regions
            case domainPhotos = "domain_photos"
        }

        /// A repair's timings as kept in its row; nil before it has any.
        public static func of(_ repair: RepairRecord) -> Timings? {
            repair.timings.flatMap { try? JSONDecoder().decode(Timings.self, from: Data($0.utf8)) }
        }
    }

    /// Runs a queued repair (the job): the result becomes an image of the project with the
    /// source's human labels.
    func run(_ repair: RepairRecord, context: JobContext) async throws -> RepairRecord {
        guard let project = try await store.projects.find(id: repair.projectID) else {
            throw PermanentJobFailure("project \(repair.projectID) no longer exists")
        }
        guard let source = try await store.images.member(sha256: repair.sourceSHA256, of: project.id),
            let sourcePath = try await blobs.localFile(for: .original(repair.sourceSHA256)),
            let maskPath = try await blobs.localFile(for: .mask(repair.maskSHA256))
        else {
            throw PermanentJobFailure("the photo to repair is no longer in project \(project.name)")
        }
        try await store.repairs.setState(id: repair.id, .running)
        let (finish, network) = methods.resolve(method: repair.method)
        if finish == nil, network == nil {
            throw PermanentJobFailure("the repair method \(repair.method) is no longer available")
        }
        // Networks see the crop alone; domain photos are for the built-in method.
        let exemplars =
            repair.domain && network == nil
            ? try await methods.similarPhotos(to: repair.sourceSHA256, in: project.id) : []
        let chosen = network
        let repairer = self.repairer
        let started = ContinuousClock.now
        var settings = Repairer.Options(seed: repair.seed)
        settings.threads = 2
        settings.finish = finish ?? .texture
        let options = settings
        let result = try await offloadBlocking {
            try repairer.repair(
                image: sourcePath, mask: maskPath, exemplars: exemplars, network: chosen, options: options
            ) { fraction in
                context.report(progress: 0.05 + 0.9 * fraction, message: "repairing")
                return !Task.isCancelled
            }
        }
        let seconds = (ContinuousClock.now - started).seconds
        let file = scratch.newFileURL(suffix: result.format == .jpeg ? ".jpg" : ".png")
        try result.data.write(to: file)
        let sha256 = SHA256.hash(data: result.data).lowercaseHex
        let stem =
            (source.originalName.map { ($0 as NSString).deletingPathExtension }
                ?? String(repair.sourceSHA256.prefix(12)))
        let staged = StagedUpload(
            url: file, sha256: sha256, byteCount: Int64(result.data.count),
            originalName: "\(stem).repaired.\(result.format == .jpeg ? "jpg" : "png")")
        _ = try await library.ingest(
            staged, into: project, labels: source.labels.filter { $0.source == Label.humanSource })
        let timings = Timings(
            seconds: seconds, maskedPixels: result.maskedPixels, workingPixels: result.workingPixels,
            regions: result.regions, domainPhotos: result.exemplars)
        let encoded = String(decoding: try JSONEncoder().encode(timings), as: UTF8.self)
        try await store.repairs.finish(id: repair.id, state: .succeeded, result: sha256, error: nil, timings: encoded)
        var done = repair
        (done.state, done.resultSHA256, done.timings) = (.succeeded, sha256, encoded)
        return done
    }

    /// Records an event for a repair (the audit log's "iris repairer").
    func announce(_ action: EventAction, _ repair: RepairRecord, detail: [String: String]) async {
        await audit.record(
            as: .system("iris repairer"), action, project: repair.projectID, subject: "repair \(repair.id)",
            detail: detail)
    }
}
