import Foundation
import HTTPTypes
import Hummingbird
import IrisBlobs
import IrisCore
import IrisServices
import IrisStore

/// Dataset exports: a job writes the project's zip (docs/EXPORTS.md); the zip is downloaded
/// with byte ranges until it expires. Editors and up: an export holds every image, flagged ones too.
struct ExportController {
    let store: IrisStore
    let blobs: any BlobStore
    let queue: JobQueue
    let audit: AuditLog

    func addRoutes(to group: Routes<RouterGroup<IrisRequestContext>>) {
        group.post("projects/{id}/exports", .project(.editor), use: create)
        group.get("projects/{id}/exports/{job}", .project(.editor), use: download)
    }

    struct CreateRequest: Decodable {
        /// Keys arrive snake_case and are converted (`model_confidence`).
        struct Include: Decodable {
            var human: Bool?
            var learner: Bool?
            var modelConfidence: Double?
        }
        var format: String
        var split: Bool?
        var include: Include?
        /// `accepted` (the default while the project reviews uploads) or `all`.
        var review: String?
    }

    @Sendable func create(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<
        APIModel.JobBody
    > {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let body = try await request.decode(as: CreateRequest.self, context: context)
        guard let format = DatasetExport.Format(rawValue: body.format) else {
            throw Problem.badRequest(
                "format must be one of \(DatasetExport.Format.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(body.format.prefix(40))\"",
                field: "format")
        }
        let include = DatasetExport.Include(
            human: body.include?.human ?? true, learner: body.include?.learner ?? true,
            modelConfidence: body.include?.modelConfidence)
        if let confidence = include.modelConfidence, !(0...1).contains(confidence) {
            throw Problem.badRequest("include.model_confidence must be from 0 to 1", field: "include.model_confidence")
        }
        guard include.human || include.learner || include.modelConfidence != nil else {
            throw Problem.badRequest(
                "include takes no labels at all: allow human, learner or model ones", field: "include")
        }
        let onlyAccepted: Bool
        switch body.review {
        case nil: onlyAccepted = project.review != .off
        case "accepted": onlyAccepted = true
        case "all": onlyAccepted = false
        case let other?:
            throw Problem.badRequest("review must be accepted or all, not \"\(other.prefix(40))\"", field: "review")
        }
        let (job, _) = try await queue.enqueue(
            try JobRequest(
                kind: ExportJob.kind,
                encoding: ExportJob.Payload(
                    projectId: project.id,
                    request: DatasetExport.Request(
                        format: format, split: body.split ?? false, include: include, onlyAccepted: onlyAccepted)),
                projectID: project.id))
        await audit.record(
            context.caller, .projectExported, project: project.id, subject: "job \(job.id)",
            detail: ["format": format.rawValue])
        return EditedResponse(
            status: .accepted, headers: [.location: "/api/v1/projects/\(project.id)/exports/\(job.id)"],
            response: APIModel.JobBody(job))
    }

    /// The zip, once its job has succeeded: 409 while it runs, 410 once it expired.
    @Sendable func download(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let jobID = try Parameters.id(context, "job", noun: "export")
        guard let job = try await store.jobs.find(id: jobID), job.kind == ExportJob.kind, job.projectID == project.id
        else {
            throw Problem.notFound("project \(project.id) has no export \(jobID)")
        }
        guard job.state == .succeeded, let result = job.result,
            let output = try? JSONDecoder().decode(ExportJob.Output.self, from: Data(result.utf8))
        else {
            throw Problem.conflict(
                "export \(jobID) is \(job.state.rawValue), not ready: GET /api/v1/jobs/\(jobID) shows its progress",
                field: "job")
        }
        guard (output.expiry ?? .distantPast) > Date(), let path = try await blobs.localFile(for: .export(jobID)),
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
        else {
            throw Problem(
                status: 410, slug: "gone", title: "Gone",
                detail:
                    "export \(jobID) was removed \(Int(ExportJob.retentionHours)) hours after it was made: export again",
                field: "job")
        }
        let headers: HTTPFields = [
            .contentType: "application/zip", .acceptRanges: "bytes", .eTag: "\"export-\(jobID)\"",
            .contentDisposition: "attachment; filename=\"\(output.fileName)\"",
        ]
        return try await FileResponses.serve(path: path, size: size, headers: headers, request, context: context)
    }
}
