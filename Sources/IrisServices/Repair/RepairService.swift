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
    /// `queue` and `library` take requests and store results; the command line, which only
    /// lists methods and domain photos, passes neither.
    public init(
        store: IrisStore, blobs: any BlobStore, scratch: ScratchSpace, repairer: Repairer, models: ModelRegistry,
        queue: JobQueue? = nil, library: ImageLibrary? = nil
    ) {
        self.store = store
        self.blobs = blobs
        self.scratch = scratch
        self.repairer = repairer
        self.models = models
        self.queue = queue
        self.library = library
    }

    public let store: IrisStore
    public let blobs: any BlobStore
    public let scratch: ScratchSpace
    public let repairer: Repairer
    /// Where the inpaint models (the other repair methods) come from.
    public let models: ModelRegistry
    /// Where repair jobs go.
    let queue: JobQueue?
    /// What stores a repaired photo in its project.
    let library: ImageLibrary?

    /// The built-in method, patches copied from the photo (and domain photos), with its copied
    /// texture kept to the middle of the hole.
    public static let builtIn = "exemplar"
    /// The built-in methods: `exemplar`, and `exemplar-smooth`, whose copied texture fades deep
    /// in the hole (closer to the lost pixels on average, blurred in a large hole's middle).
    public static let builtIns: [(name: String, finish: Repairer.Finish, title: String)] = [
        (builtIn, .texture, "patches from the photo"),
        ("exemplar-smooth", .smooth, "patches from the photo, smoothed deep in the hole"),
    ]

    /// The finish of a built-in method, or the inpaint model a method names (nil for neither).
    public func resolve(method: String) -> (finish: Repairer.Finish?, network: Repairer.Network?) {
        if let builtIn = Self.builtIns.first(where: { $0.name == method }) { return (builtIn.finish, nil) }
        guard let model = models.model(method), model.repairs else { return (nil, nil) }
        return (nil, Self.network(model))
    }

    static func network(_ model: Model) -> Repairer.Network {
        Repairer.Network(width: model.manifest.input.width, height: model.manifest.input.height) {
            try model.inpaint(rgb: $0, mask: $1)
        }
    }

    /// How the page names a method.
    public static func title(of method: String) -> String {
        builtIns.first { $0.name == method }?.title ?? "\(method) (network)"
    }

    /// The methods a request may name: the built-ins, then every available inpaint model.
    public var methods: [String] {
        Self.builtIns.map(\.name)
            + models.available.filter { $0.repairs }.map(\.name).sorted()
    }
    /// Most domain photos one repair takes patches from.
    public static let domainPhotos = 8

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
        let method = method ?? Self.builtIn
        let methods = self.methods
        guard methods.contains(method) else {
            throw Refusal.invalid(
                "method must be one of \(methods.joined(separator: ", ")), not \"\(method.prefix(60))\"",
                field: "method")
        }
        guard let member = try await store.images.member(sha256: sha256, of: project.id) else {
            throw Refusal.notFound("project \(project.name) has no image \(sha256)")
        }
        guard let queue else { throw Refusal.unavailable("repairs need the job queue") }
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
            guard let library else { throw Refusal.unavailable("repairs need the library") }
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
        guard let library else { throw PermanentJobFailure("repairs need the library") }
        try await store.repairs.setState(id: repair.id, .running)
        let (finish, network) = resolve(method: repair.method)
        if finish == nil, network == nil {
            throw PermanentJobFailure("the repair method \(repair.method) is no longer available")
        }
        // Networks see the crop alone; domain photos are for the built-in method.
        let exemplars =
            repair.domain && network == nil ? try await similarPhotos(to: repair.sourceSHA256, in: project.id) : []
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

    /// The project's photos most like this one by their stored embedding (cosine), best first,
    /// over the first embedding model (by name) the photo has an embedding from.
    func similarPhotos(to sha256: String, in projectID: Int64) async throws -> [String] {
        for model in embedders {
            guard let own = try await store.analyses.embedding(sha256: sha256, model: model)?.vector else { continue }
            return try await similarPhotos(to: own, model: model, except: sha256, in: projectID)
        }
        return []
    }

    /// The same for a photo file that need not be in the project (`iris repair --project`): its
    /// embedding is made now, by the first embedding model the project's photos have embeddings from.
    public func similarPhotos(toFile path: String, in projectID: Int64) async throws -> [String] {
        for name in embedders {
            guard let model = models.model(name),
                try await !store.learning.embeddings(projectID: projectID, model: name).isEmpty
            else { continue }
            guard let own = try await model.analyze(path: path).embedding else { continue }
            return try await similarPhotos(to: own, model: name, except: nil, in: projectID)
        }
        return []
    }

    private var embedders: [String] {
        models.available.filter { $0.manifest.embeds }.map(\.name).sorted()
    }

    /// The project's photos nearest `own` (cosine), leaving out `except` and earlier repairs'
    /// results (a repair's patches come from real photos).
    private func similarPhotos(to own: [Float], model: String, except: String?, in projectID: Int64) async throws
        -> [String]
    {
        let others = try await store.learning.embeddings(projectID: projectID, model: model)
        let repaired = Set(
            try await store.repairs.list(projectID: projectID, before: nil, limit: 1000).compactMap(\.resultSHA256))
        let ranked = others.filter { $0.sha256 != except && !repaired.contains($0.sha256) }
            .map { ($0.sha256, Self.cosine(own, $0.vector)) }
            .sorted { $0.1 > $1.1 }
            .prefix(Self.domainPhotos)
        var paths: [String] = []
        for (sha256, _) in ranked {
            if let path = try await blobs.localFile(for: .original(sha256)) { paths.append(path) }
        }
        return paths
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return -1 }
        var dot: Float = 0
        var aa: Float = 0
        var bb: Float = 0
        for index in a.indices {
            dot += a[index] * b[index]
            aa += a[index] * a[index]
            bb += b[index] * b[index]
        }
        return dot / max((aa * bb).squareRoot(), 1e-12)
    }

    /// Records an event for a repair (the audit log's "iris repairer").
    func announce(_ action: EventAction, _ repair: RepairRecord, detail: [String: String]) async {
        await AuditLog(store: store).record(
            as: .system("iris repairer"), action, project: repair.projectID, subject: "repair \(repair.id)",
            detail: detail)
    }
}
