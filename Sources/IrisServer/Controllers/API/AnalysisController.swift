import Foundation
import Hummingbird
import IrisBlobs
import IrisCore
import IrisML
import IrisServices
import IrisStore

/// `/api/v1/models` and `/api/v1/analyses`: which models there are, and running them on
/// images (the photo-analysis job server): one job per (image, model), results by hash.
struct AnalysisController {
    let store: IrisStore
    let models: ModelRegistry
    let analyses: AnalysisRequests
    let scratch: ScratchSpace
    let limits: IngestLimits
    let guardian: AccessGuard
    let audit: AuditLog

    /// Most files one analysis request may carry.
    static let maxFiles = 32

    func addRoutes(to group: Routes<RouterGroup<IrisRequestContext>>) {
        group.get("models", .signedIn, use: list)
        group.post("models", .admin, use: register)
        group.delete("models/{name}", .admin, use: remove)
        group.post("analyses", .signedIn, use: create)
        group.get("analyses/{sha256}", .image, use: show)
        group.get("analyses/{sha256}/embeddings/{model}", .image, use: embedding)
    }

    // MARK: - Models

    struct ModelBody: ResponseEncodable {
        var name: String
        var description: String?
        var tasks: [String]
        var available: Bool
        var problem: String?
        var input: Input?
        var remote: Bool
        /// Registered over the API (an administrator may remove it), not read from the folder.
        var registered: Bool
        var note: String?
        /// Whether the model's graphs are in memory now (loaded by the first analysis, released
        /// after `models.idle_unload` seconds without one); false for remote models.
        var loaded: Bool
        var license: String?
        var source: String?

        struct Input: Encodable, Sendable {
            var width: Int
            var height: Int
            var layout: String
            var colors: String
            var resize: String
        }
    }

    struct ModelList: ResponseEncodable {
        var items: [ModelBody]
        var runtime: String?
    }

    /// Remote models' problems and notes name their servers: only administrators read them.
    @Sendable func list(_ request: Request, context: IrisRequestContext) async throws -> ModelList {
        let isAdmin = context.caller.isAdministrator
        return ModelList(
            items: models.entries.map { entry in
                var body = Self.body(entry, loaded: (models.model(entry.name)?.loadedGraphs ?? 0) > 0)
                if entry.manifest?.remote != nil, !isAdmin {
                    body.problem = body.problem.map { _ in "the remote model cannot be used (administrators see why)" }
                    body.note = body.note.map { _ in "its server did not answer when last checked" }
                }
                return body
            },
            runtime: models.runtimeVersion.map { "ONNX Runtime \($0)" })
    }

    static func body(_ entry: ModelRegistry.Entry, loaded: Bool = false) -> ModelBody {
        let manifest = entry.manifest
        return ModelBody(
            name: entry.name, description: manifest?.description, tasks: manifest?.tasks.map(\.rawValue) ?? [],
            available: entry.available,
            problem: entry.problem,
            // A text model (embed-text) takes no image.
            input: manifest.flatMap { $0.tasks.contains(.embedText) ? nil : $0 }.map {
                .init(
                    width: $0.input.width, height: $0.input.height, layout: $0.input.layout.rawValue,
                    colors: $0.input.colors.rawValue,
                    resize: $0.input.resize.rawValue)
            },
            remote: manifest?.remote != nil, registered: entry.registered, note: entry.note, loaded: loaded,
            license: manifest?.license,
            source: manifest?.source)
    }

    /// Registers a remote model (administrators): the body is its manifest, with `remote`
    /// and the labels as a list. Iris checks the manifest, that the URL's origin is in
    /// `models.remote_allow`, and what the server says the model takes and gives, before
    /// anything is stored.
    @Sendable func register(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<ModelBody> {
        // Manifests spell their keys as the models folder does (`short_side`), so they are not converted.
        let manifest = try IrisJSONDecoder.decode(
            ModelManifest.self, from: try await IrisJSONDecoder.body(of: request, context: context),
            convertingKeys: false)
        let entry = try await models.register(manifest, store: store, createdBy: context.caller.user?.id)
        await audit.record(
            context.caller, .modelRegistered, subject: "model \(manifest.name)",
            detail: ["url": manifest.remote?.url ?? ""])
        return EditedResponse(status: .created, response: Self.body(entry))
    }

    /// Removes a registered remote model (administrators). Results it gave stay.
    @Sendable func remove(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        try await models.unregister(name, store: store)
        await audit.record(context.caller, .modelRemoved, subject: "model \(name)")
        return Response(status: .noContent)
    }

    // MARK: - Creating analyses

    struct CreateRequest: Decodable {
        var models: [String]
        var images: [String]
    }

    struct Created: ResponseEncodable {
        var items: [Item]

        struct Item: Encodable, Sendable {
            /// The file's name as sent, for files.
            var file: String?
            var sha256: String?
            /// Job per model; absent when the image was refused.
            var jobs: [String: Int64]?
            /// Set when this image was refused (the others still proceed).
            var error: ItemError?
        }

        struct ItemError: Encodable, Sendable {
            var status: Int
            var detail: String
        }
    }

    /// JSON `{"models": [...], "images": [sha256...]}` for stored images, or multipart with
    /// `models` (repeated or comma-separated), `project_id` and `file` parts (new images
    /// join that project, as uploads) and optional `sha256` parts.
    @Sendable func create(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<Created> {
        let isMultipart = request.headers[.contentType]?.lowercased().hasPrefix("multipart/form-data") ?? false
        if !isMultipart {
            let body = try await request.decode(as: CreateRequest.self, context: context)
            let names = try checkModels(body.models)
            guard !body.images.isEmpty else {
                throw Problem.badRequest("images is empty: name at least one sha256", field: "images")
            }
            guard body.images.count <= 1000 else {
                throw Problem.badRequest("at most 1000 images per request", field: "images")
            }
            var items: [Created.Item] = []
            for sha256 in body.images {
                items.append(await enqueueStored(sha256, models: names, caller: context.caller))
            }
            return try respond(items)
        }
        // Photos sent here are uploads like any other: they count against the sender's rate.
        let sender = Uploads.Sender.caller(context.caller, address: context.clientKey)
        try await analyses.uploads.admit(sender)
        let received = try await MultipartReceiver.receive(
            request, into: scratch, limit: limits.maxUploadBytes, maxFiles: Self.maxFiles)
        var items: [Created.Item] = []
        do {
            let names = try checkModels(
                received.fields["models", default: []].flatMap { $0.split(separator: ",") }.map(String.init))
            let references = received.fields["sha256", default: []]
            guard !received.files.isEmpty || !references.isEmpty else {
                throw Problem.badRequest(
                    "send images as parts named \"file\", or name stored ones in parts named \"sha256\"", field: "file")
            }
            var project: Project?
            if !received.files.isEmpty {
                guard let raw = received.fields["project_id"]?.first,
                    let id = Int64(raw.trimmingCharacters(in: .whitespaces)), id > 0
                else {
                    throw Problem.badRequest(
                        "files need a project_id part: new images are stored in that project", field: "project_id")
                }
                try await guardian.require(.contributor, inProject: id, caller: context.caller)
                project = try await store.projects.require(id: id)
            }
            for sha256 in references {
                items.append(await enqueueStored(sha256, models: names, caller: context.caller))
            }
            for file in received.files {
                items.append(await ingestAndEnqueue(file, into: project!, models: names, from: sender))
            }
        } catch {
            received.discard()
            throw error
        }
        return try respond(items)
    }

    func checkModels(_ requested: [String]) throws -> [String] { try analyses.checkModels(requested) }

    func enqueueStored(_ sha256: String, models names: [String], caller: Caller) async -> Created.Item {
        do {
            try Parameters.checkSHA256(sha256, field: "sha256")
            let holders = try await guardian.requireView(image: sha256, caller: caller)
            return Created.Item(
                sha256: sha256,
                jobs: try await analyses.enqueue(sha256, models: names, projectID: holders.first?.projectID))
        } catch {
            return Created.Item(sha256: sha256, error: Self.itemError(error))
        }
    }

    func ingestAndEnqueue(
        _ file: StagedUpload, into project: Project, models names: [String], from sender: Uploads.Sender
    ) async -> Created.Item {
        do {
            let jobs = try await analyses.ingestAndEnqueue(file, into: project, models: names, from: sender)
            return Created.Item(file: file.originalName, sha256: file.sha256, jobs: jobs)
        } catch {
            try? FileManager.default.removeItem(at: file.url)
            return Created.Item(file: file.originalName, sha256: file.sha256, error: Self.itemError(error))
        }
    }

    static func itemError(_ error: any Error) -> Created.ItemError {
        if let problem = ErrorMapping.problem(error), (400..<500).contains(problem.status) {
            return .init(status: problem.status, detail: problem.detail)
        }
        return .init(status: 500, detail: "the image could not be analysed: \(error)")
    }

    /// 202 when every image was accepted, 207 with an error per refused image when some
    /// were; when none was, the problem (4xx) names each refusal.
    func respond(_ items: [Created.Item]) throws -> EditedResponse<Created> {
        let refused = items.compactMap { item in item.error.map { (item, $0) } }
        if !refused.isEmpty && refused.count == items.count {
            let detail = refused.map { item, error in "\(item.file ?? item.sha256 ?? "image"): \(error.detail)" }
                .joined(separator: "; ")
            let status = refused.allSatisfy { $0.1.status == 404 } ? 404 : 400
            throw status == 404
                ? Problem.notFound(detail)
                : Problem.badRequest(detail, field: refused.first?.0.file != nil ? "file" : "images")
        }
        return EditedResponse(status: refused.isEmpty ? .accepted : .init(code: 207), response: Created(items: items))
    }

    // MARK: - Reading results

    struct Status: ResponseEncodable {
        var sha256: String
        var models: [String: ModelStatus]
    }

    struct ModelStatus: Encodable, Sendable {
        var state: String
        var jobID: Int64?
        var progress: Double?
        var error: String?
        var result: Result?

        enum CodingKeys: String, CodingKey {
            case state
            case jobID = "jobId"
            case progress, error, result
        }
    }

    /// A model's result, typed by task.
    struct Result: Encodable, Sendable {
        var labels: [ScoredLabel]?
        var moderation: Double?
        var text: [TextLine]?
        var embedding: EmbeddingRef?
        var analyzedAt: Date

        struct EmbeddingRef: Encodable, Sendable {
            var dimension: Int
            var url: String
        }
    }

    @Sendable func show(_ request: Request, context: IrisRequestContext) async throws -> Status {
        let sha256 = try Parameters.sha256(context)
        // An analysis job belongs to the project that first asked for it; its id is shown only to
        // callers who may read that project (the result itself is the image's, which they may see).
        let readable = Set(try await guardian.requireView(image: sha256, caller: context.caller).map(\.projectID))
        var statuses: [String: ModelStatus] = [:]
        let jobs = try await store.jobs.list(
            state: nil, kind: AnalysisJob.kind, projectIDs: nil, keyPrefix: "analyze:\(sha256):", before: nil,
            limit: 200)
        // Newest job per model first.
        for job in jobs.sorted(by: { $0.id > $1.id }) {
            guard let model = job.idempotencyKey?.split(separator: ":").last.map(String.init), statuses[model] == nil
            else { continue }
            let shown = job.projectID.map(readable.contains) ?? context.caller.isAdministrator
            statuses[model] = ModelStatus(
                state: job.state.rawValue, jobID: shown ? job.id : nil, progress: job.progress, error: job.error)
        }
        for analysis in try await store.analyses.list(sha256: sha256) {
            guard let stored = try? JSONDecoder().decode(StoredResult.self, from: Data(analysis.result.utf8)) else {
                continue
            }
            var status = statuses[analysis.model] ?? ModelStatus(state: JobState.succeeded.rawValue)
            status.result = Result(
                labels: stored.output.labels, moderation: stored.output.moderation, text: stored.output.text,
                embedding: stored.embeddingDimension.map {
                    .init(dimension: $0, url: "/api/v1/analyses/\(sha256)/embeddings/\(analysis.model)")
                },
                analyzedAt: analysis.createdAt)
            statuses[analysis.model] = status
        }
        return Status(sha256: sha256, models: statuses)
    }

    struct EmbeddingBody: ResponseEncodable {
        var sha256: String
        var model: String
        var dimension: Int
        var vector: [Float]
    }

    @Sendable func embedding(_ request: Request, context: IrisRequestContext) async throws -> EmbeddingBody {
        let sha256 = try Parameters.sha256(context)
        let model = context.parameters.get("model") ?? ""
        guard let embedding = try await store.analyses.embedding(sha256: sha256, model: model) else {
            throw Problem.notFound("model \(model.prefix(64)) has no embedding of this image (yet)")
        }
        return EmbeddingBody(sha256: sha256, model: model, dimension: embedding.vector.count, vector: embedding.vector)
    }
}
