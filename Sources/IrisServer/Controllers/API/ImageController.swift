import Foundation
import HTTPTypes
import Hummingbird
import IrisBlobs
import IrisCore
import IrisServices
import IrisStore
import NIOCore

/// Uploading, listing, reading and removing images.
struct ImageController {
    let store: IrisStore
    let blobs: any BlobStore
    let library: ImageLibrary
    let scratch: ScratchSpace
    let limits: IngestLimits
    let audit: AuditLog
    /// Uploads per caller per minute.
    let uploads: Uploads
    let guardian: AccessGuard
    let moderation: Moderation

    func addRoutes(to group: Routes<RouterGroup<IrisRequestContext>>) {
        group.post("projects/{id}/images", .project(.contributor), use: upload)
        group.get("projects/{id}/images", .project(.viewer), use: list)
        group.delete("projects/{id}/images/{sha256}", .project(.editor), use: remove)
        group.get("images/{sha256}", .image, use: show)
        group.get("images/{sha256}/original", .image, use: original)
        group.get("images/{sha256}/thumbnail", .image, use: thumbnail)
        group.post("links/{code}/images", .link, use: linkUpload)
        group.post("projects/{id}/images/check", .project(.contributor), use: check)
        group.post("links/{code}/images/check", .link, use: linkCheck)
    }

    struct CheckRequest: Decodable {
        var sha256: [String]
    }

    /// The most hashes one check may ask about.
    static let checkLimit = 1000

    /// Which of these SHA-256s are in the project already, so an uploader sends only the rest
    /// (the answer is what uploading each would say: "already in the project").
    @Sendable func check(_ request: Request, context: IrisRequestContext) async throws -> APIModel.CheckBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        return try await answerCheck(request, context: context, projectID: project.id)
    }

    /// The same through a contributor link, for its project.
    @Sendable func linkCheck(_ request: Request, context: IrisRequestContext) async throws -> APIModel.CheckBody {
        let link = try await guardian.link(context)
        return try await answerCheck(request, context: context, projectID: link.projectID)
    }

    private func answerCheck(_ request: Request, context: IrisRequestContext, projectID: Int64) async throws
        -> APIModel.CheckBody
    {
        let body = try await request.decode(as: CheckRequest.self, context: context)
        guard body.sha256.count <= Self.checkLimit else {
            throw Problem.badRequest(
                "sha256 may list at most \(Self.checkLimit) hashes, not \(body.sha256.count)", field: "sha256")
        }
        let wanted = body.sha256.map { $0.lowercased() }
        for sha256 in wanted { try Parameters.checkSHA256(sha256, field: "sha256") }
        let present = try await store.images.present(Array(Set(wanted)), in: projectID)
        return APIModel.CheckBody(
            present: wanted.filter { present.contains($0) }, missing: wanted.filter { !present.contains($0) })
    }

    /// Multipart upload: part `file` (streamed to disk while hashed), optional repeated `label`.
    @Sendable func upload(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<
        APIModel.UploadBody
    > {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        return try await receive(
            request, into: project, from: .caller(context.caller, address: context.clientKey))
    }

    /// An upload through a contributor link: into the link's project only, labels from its choices.
    @Sendable func linkUpload(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<
        APIModel.UploadBody
    > {
        let link = try await guardian.link(context)
        let project = try await store.projects.require(id: link.projectID)
        return try await receive(request, into: project, from: .link(link, address: context.clientKey))
    }

    /// Reads the multipart body and hands the photo to the upload use case; answers 201 when
    /// it joined the project, 200 when the project had it (labels sent are added).
    private func receive(_ request: Request, into project: Project, from sender: Uploads.Sender) async throws
        -> EditedResponse<APIModel.UploadBody>
    {
        try await uploads.admit(sender)
        let received = try await MultipartReceiver.receive(request, into: scratch, limit: limits.maxUploadBytes)
        guard let file = received.file else {
            throw Problem.badRequest("the request has no part named \"file\"", field: "file")
        }
        let outcome = try await uploads.accept(
            file, into: project, labels: received.fields["label", default: []], from: sender)
        let body = APIModel.UploadBody(
            sha256: outcome.member.image.sha256, duplicate: outcome.alreadyInProject, image: .init(outcome.member),
            labelsAdded: outcome.addedLabels.map(\.name))
        let location = "/api/v1/images/\(outcome.member.image.sha256)"
        return EditedResponse(
            status: outcome.alreadyInProject ? .ok : .created, headers: [.location: location], response: body)
    }

    @Sendable func list(_ request: Request, context: IrisRequestContext) async throws
        -> APIModel.Page<APIModel.ImageBody>
    {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let seesFlagged = try await moderation.seesFlagged(context.caller, in: project)
        var filter = moderation.filter(
            label: Parameters.nonEmpty(request, "label"), modelLabel: Parameters.nonEmpty(request, "model_label"),
            project: project, seesFlagged: seesFlagged)
        filter.review = try Parameters.review(request)
        // Which link brought a photo is editors' knowledge: for others the filter matches nothing.
        if let link = try Parameters.link(request) { filter.linkID = seesFlagged ? link : 0 }
        let page = try await store.images.list(
            projectID: project.id, filter: filter, after: try Parameters.cursor(request),
            limit: try Parameters.limit(request))
        return .init(
            items: page.items.map(APIModel.ImageBody.init), nextCursor: Parameters.encodeCursor(page.nextCursor))
    }

    @Sendable func remove(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let sha256 = try Parameters.sha256(context)
        try await library.remove(sha256: sha256, from: project.id)
        await audit.record(context.caller, .imageRemoved, project: project.id, subject: sha256)
        return Response(status: .noContent)
    }

    @Sendable func show(_ request: Request, context: IrisRequestContext) async throws -> APIModel.ImageBody {
        let image = try await record(context)
        var body = APIModel.ImageBody(image)
        // Only the projects this caller may read: the same bytes in another project say nothing of it.
        body.projects = try await guardian.requireView(image: image.sha256, caller: context.caller).map {
            .init(
                projectId: $0.projectID, projectName: $0.projectName, labels: $0.labels.map(APIModel.LabelBody.init),
                addedAt: $0.addedAt)
        }
        return body
    }

    /// The original bytes, with a strong ETag (the hash) and single byte-range support.
    @Sendable func original(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let image = try await record(context)
        let key = BlobKey.original(image.sha256)
        var headers: HTTPFields = [
            .contentType: image.format.mediaType, .eTag: "\"\(image.sha256)\"", .acceptRanges: "bytes",
            .cacheControl: "private, max-age=31536000, immutable", .init("X-Content-Type-Options")!: "nosniff",
        ]
        if FileResponses.matches(request.headers[.ifNoneMatch], etag: image.sha256) {
            return Response(status: .notModified, headers: headers)
        }
        if let direct = try await blobs.directURL(for: key, contentType: image.format.mediaType) {
            return FileResponses.redirect(to: direct)
        }
        // A store that is not on disk (S3) fetches the original into its local cache first.
        guard let path = try await blobs.localFile(for: key),
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
        else {
            throw Problem.notFound("the original of \(image.sha256) is missing from the blob store")
        }
        return try await FileResponses.serve(path: path, size: size, headers: headers, request, context: context)
    }

    @Sendable func thumbnail(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let image = try await record(context)
        let sizeText = request.uri.queryParameters.get("size") ?? "256"
        guard let size = Int(sizeText), ImageLibrary.thumbnailSizes.contains(size) else {
            throw Problem.badRequest("size must be 256 or 1024, not \"\(sizeText.prefix(40))\"", field: "size")
        }
        let etag = "\(image.sha256)-\(size)"
        var headers: HTTPFields = [
            .contentType: "image/jpeg", .eTag: "\"\(etag)\"", .cacheControl: "private, max-age=31536000, immutable",
        ]
        if FileResponses.matches(request.headers[.ifNoneMatch], etag: etag) {
            return Response(status: .notModified, headers: headers)
        }
        // One not made yet is made here (and the next request is sent to S3).
        if let direct = try await blobs.directURL(for: .thumbnail(image.sha256, size: size), contentType: "image/jpeg")
        {
            return FileResponses.redirect(to: direct)
        }
        guard let data = try await library.thumbnail(sha256: image.sha256, size: size) else {
            throw Problem.notFound("the original of \(image.sha256) is missing, so no thumbnail can be made")
        }
        headers[.contentLength] = String(data.count)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private func record(_ context: IrisRequestContext) async throws -> ImageRecord {
        let sha256 = try Parameters.sha256(context)
        guard let image = try await store.images.find(sha256: sha256) else {
            throw Problem.notFound("no image has sha256 \(sha256)")
        }
        return image
    }
}
