import Foundation
import Hummingbird
import IrisBlobs
import IrisCore
import IrisServices
import IrisStore

/// `POST /api/v1/projects/{id}/imports`: a zip in one of the layouts an export writes
/// (ImageFolder, YOLO, CSV, COCO, Label Studio), sent as the raw body (`application/zip`) or as
/// the multipart part `file`. `format` names the layout (else it is read from the zip) and
/// `create_labels` adds labels the project's label set lacks; both are query parameters or
/// form fields. Folder names or the manifest's labels become human labels.
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
        let (zipURL, fields) = try await receiveZip(request)
        defer { try? FileManager.default.removeItem(at: zipURL) }
        let options = try Options(request: request, fields: fields)
        let report = try await importer.importZip(
            at: zipURL, into: project, format: options.format, createLabels: options.createLabels)
        var detail = [
            "imported": String(report.imported), "duplicates": String(report.duplicates),
            "skipped": String(report.skipped.count), "format": report.format?.rawValue ?? "",
        ]
        if !report.createdLabels.isEmpty { detail["created_labels"] = report.createdLabels.joined(separator: ", ") }
        await audit.record(context.caller, .importCompleted, project: project.id, subject: "zip", detail: detail)
        return EditedResponse(status: report.imported > 0 ? .created : .ok, response: .init(report))
    }

    /// The import's choices, from the query or the form (a form field wins).
    struct Options {
        var format: ImportFormat?
        var createLabels = false

        init(request: Request, fields: [String: [String]]) throws {
            func value(_ name: String) -> String? {
                fields[name]?.last ?? request.uri.queryParameters.get(name)
            }
            if let raw = value("format"), !raw.isEmpty {
                guard let format = ImportFormat(rawValue: raw.lowercased()) else {
                    throw Problem.badRequest("format must be \(ImportFormat.spelled), not \(raw)", field: "format")
                }
                self.format = format
            }
            switch value("create_labels")?.lowercased() {
            case nil, "", "false": createLabels = false
            case "true": createLabels = true
            case let other?:
                throw Problem.badRequest("create_labels must be true or false, not \(other)", field: "create_labels")
            }
        }
    }

    private func receiveZip(_ request: Request) async throws -> (URL, [String: [String]]) {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        if contentType.hasPrefix("multipart/form-data") {
            let received = try await MultipartReceiver.receive(request, into: scratch, limit: limits.maxUploadBytes)
            guard let file = received.file else {
                received.discard()
                throw Problem.badRequest("the request has no part named \"file\"", field: "file")
            }
            return (file.url, received.fields)
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
        return (staged.url, [:])
    }
}
