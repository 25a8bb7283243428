import Foundation
import Hummingbird
import IrisBlobs
import IrisCore
import IrisServices
import IrisStore

/// `/api/v1/images/{sha256}/repairs`, `/repairs/{id}` and a project's repair history.
struct RepairController {
    let store: IrisStore
    let repairs: RepairService
    let blobs: any BlobStore
    let scratch: ScratchSpace
    let guardian: AccessGuard
    let audit: AuditLog

    /// Largest mask upload: a 100 MP photo's one-band PNG is far below it.
    static let maxMaskBytes: Int64 = 64 * 1024 * 1024

    func addRoutes(to group: Routes<RouterGroup<IrisRequestContext>>) {
        group.post("images/{sha256}/repairs", .imageRole(.contributor), use: request)
        group.get("repairs/{repairID}", .repair(.viewer), use: show)
        group.get("repairs/{repairID}/mask", .repair(.viewer), use: mask)
        group.post("repairs/{repairID}/discard", .repair(.contributor), use: discard)
        group.get("projects/{id}/repairs", .project(.viewer), use: list)
    }

    struct RepairBody: ResponseEncodable {
        var id: Int64
        var projectId: Int64
        var sourceSha256: String
        var resultSha256: String?
        var method: String
        var domain: Bool
        var seed: UInt64
        var state: String
        var progress: Double?
        var progressMessage: String?
        var jobId: Int64?
        var requestedBy: String
        var error: String?
        var timings: RepairService.Timings?
        var discarded: Bool
        var createdAt: Date
        var finishedAt: Date?
    }

    func body(_ repair: RepairRecord, job: Job? = nil) -> RepairBody {
        RepairBody(
            id: repair.id, projectId: repair.projectID, sourceSha256: repair.sourceSHA256,
            resultSha256: repair.resultSHA256, method: repair.method, domain: repair.domain, seed: repair.seed,
            state: repair.state.rawValue,
            progress: job.map { repair.state == .succeeded ? 1 : $0.progress }, progressMessage: job?.progressMessage,
            jobId: repair.jobID, requestedBy: repair.requestedBy, error: repair.error,
            timings: RepairService.Timings.of(repair),
            discarded: repair.discarded, createdAt: repair.createdAt, finishedAt: repair.finishedAt)
    }

    /// Multipart: `mask` (a picture of the photo's size, white = repair), and optionally
    /// `project_id` (needed when the image is in several of the caller's projects), `method`,
    /// `domain` (true: also take patches from the project's most similar photos) and `seed`.
    @Sendable func request(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<RepairBody> {
        let sha256 = try Parameters.sha256(context)
        let allowed = try await guardian.projects(holding: sha256, role: .contributor, caller: context.caller)
        guard request.headers[.contentType]?.lowercased().hasPrefix("multipart/form-data") ?? false else {
            throw Problem.badRequest(
                "send multipart/form-data with the mask in a part named \"mask\"", field: "mask")
        }
        let received = try await MultipartReceiver.receive(
            request, into: scratch, limit: Self.maxMaskBytes, filePart: "mask")
        defer { received.discard() }
        guard let maskFile = received.file else {
            throw Problem.badRequest("send the mask in a part named \"mask\"", field: "mask")
        }
        var named: Int64?
        if let raw = received.fields["project_id"]?.first {
            guard let id = Int64(raw), id > 0 else {
                throw Problem.badRequest(
                    "project_id must be a positive integer, not \"\(raw.prefix(40))\"", field: "project_id")
            }
            named = id
        }
        let projectID = try RepairService.project(for: sha256, named: named, among: allowed)
        // Absent: the project's default (`repair_domain`).
        let domain: Bool?
        switch received.fields["domain"]?.first?.lowercased() {
        case nil, "": domain = nil
        case "false", "0": domain = false
        case "true", "1": domain = true
        case let other?:
            throw Problem.badRequest("domain must be true or false, not \"\(other.prefix(20))\"", field: "domain")
        }
        var seed: UInt64?
        if let raw = received.fields["seed"]?.first {
            guard let value = UInt64(raw), value > 0, value <= UInt64(Int64.max) else {
                throw Problem.badRequest("seed must be a positive integer, not \"\(raw.prefix(40))\"", field: "seed")
            }
            seed = value
        }
        let project = try await store.projects.require(id: projectID)
        let caller = AuditLog.Actor.caller(context.caller).name
        let (repair, job) = try await repairs.request(
            sha256: sha256, project: project, maskPath: maskFile.url.path,
            method: received.fields["method"]?.first, domain: domain ?? project.repairDomain, seed: seed,
            requestedBy: caller)
        await audit.record(
            context.caller, .repairRequested, project: project.id, subject: "repair \(repair.id)",
            detail: ["source": sha256, "method": repair.method, "domain": "\(repair.domain)"])
        return EditedResponse(status: .accepted, response: body(repair, job: job))
    }

    @Sendable func show(_ request: Request, context: IrisRequestContext) async throws -> RepairBody {
        let repair = try await find(context)
        let job = try await repair.jobID.asyncMap { try await store.jobs.find(id: $0) } ?? nil
        return body(repair, job: job)
    }

    /// The mask as stored: a one-band PNG, white where the photo was repaired.
    @Sendable func mask(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let repair = try await find(context)
        guard let data = try await blobs.data(for: .mask(repair.maskSHA256)) else {
            throw Problem.notFound("the mask of repair \(repair.id) is no longer stored")
        }
        var headers = HTTPFields()
        headers[.contentType] = "image/png"
        headers[.cacheControl] = "private, max-age=86400"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The owner does not keep the result: it leaves the project (the history keeps the record).
    @Sendable func discard(_ request: Request, context: IrisRequestContext) async throws -> RepairBody {
        var repair = try await find(context)
        guard repair.state == .succeeded, let result = repair.resultSHA256 else {
            throw Problem.conflict("repair \(repair.id) has no result to discard (it is \(repair.state.rawValue))")
        }
        if !repair.discarded {
            try await repairs.discardResult(repair, sha256: result)
            await audit.record(
                context.caller, .repairDiscarded, project: repair.projectID, subject: "repair \(repair.id)",
                detail: ["result": result])
            repair.discarded = true
        }
        return body(repair)
    }

    /// Newest first; `cursor` from the previous page, `limit` up to 200 (default 50).
    @Sendable func list(_ request: Request, context: IrisRequestContext) async throws -> APIModel.Page<RepairBody> {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let limit = try Parameters.limit(request, default: 50, max: 200)
        let page = try await store.repairs.list(
            projectID: project.id, before: try Parameters.cursor(request), limit: limit + 1)
        let items = Array(page.prefix(limit))
        return APIModel.Page(
            items: items.map { body($0) },
            nextCursor: Parameters.encodeCursor(page.count > limit ? items.last?.id : nil))
    }

    private func find(_ context: IrisRequestContext) async throws -> RepairRecord {
        let id = try Parameters.id(context, "repairID", noun: "repair")
        guard let repair = try await store.repairs.find(id: id) else {
            throw Problem.notFound("no repair has id \(id)")
        }
        return repair
    }
}

extension Optional {
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
