import Foundation
import Hummingbird
import IrisBlobs
import IrisCore
import IrisServices
import IrisStore

/// `POST /api/v1/projects/{id}/imports`: a zip in ImageFolder layout, sent as the raw
/// body (`application/zip`) or as the multipart part `file`. Folder names become human labels.
struct ImportController {
    let store: IrisStore
    let importer: ImageFolderImport
    let scratch: ScratchSpace
    let limits: IngestLimits
    let audit: AuditLog

    func addRoutes(to group: Routes<RouterGroup<IrisRequestContext>>) {
        group.post("projects/{id}/imports", .project(.editor), use: create)
    }

    @Sendable func create(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<
        APIModel.ImportBody
    > {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        try MultipartReceiver.checkDeclaredLength(request, limit: limits.maxUploadBytes)
        let zipURL = try await receiveZip(request)
        defer { try? FileManager.default.removeItem(at: zipURL) }
        let report = try await importer.importZip(at: zipURL, into: project)
        await audit.record(
            context.caller, .importCompleted, project: project.id, subject: "zip",
            detail: [
                "imported": String(report.imported), "duplicates": String(report.duplicates),
                "skipped": String(report.skipped.count),
            ])
        return EditedResponse(status: report.imported > 0 ? .created : .ok, response: .init(report))
    }

    private func receiveZip(_ request: Request) async throws -> URL {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        if contentType.hasPrefix("multipart/form-data") {
            let received = try await MultipartReceiver.receive(request, into: scratch, limit: limits.maxUploadBytes)
            guard let file = received.file else {
                throw Problem.badRequest("the request has no part named \"file\"", field: "file")
            }
            return file.url
        }
        guard contentType.hasPrefix("application/zip") || contentType.hasPrefix("application/x-zip-compressed") else {
            throw Problem.unsupportedMediaType(
                "send the zip as application/zip or as the multipart part \"file\"", field: "Content-Type")
        }
        let staged = try StagedFile(in: scratch, limit: limits.maxUploadBytes, suffix: ".zip")
        do {
            for try await chunk in request.body {
                try chunk.withUnsafeReadableBytes { try staged.write($0) }
            }
            _ = try staged.finish()
        } catch is StagedFile.TooLarge {
            staged.discard()
            throw Problem.contentTooLarge("the zip is over the \(limits.maxUploadBytes)-byte limit", field: "file")
        } catch {
            staged.discard()
            throw error
        }
        guard staged.byteCount > 0 else {
            staged.discard()
            throw Problem.badRequest("the zip is empty", field: "file")
        }
        return staged.url
    }
}
