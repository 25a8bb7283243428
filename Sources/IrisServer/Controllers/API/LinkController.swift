import Foundation
import HTTPTypes
import Hummingbird
import IrisCore
import IrisServices
import IrisStore
import Mustache
import NIOCore

/// Contributor upload links: owners create, list and revoke them; holders see what the
/// link offers and upload through it (`ImageController.linkUpload`; the phone-sized page is
/// `ContributorPage`).
struct LinkController {
    let store: IrisStore
    let audit: AuditLog
    let guardian: AccessGuard

    func addRoutes(to api: Routes<RouterGroup<IrisRequestContext>>) {
        api.post("projects/{id}/links", .project(.owner), use: create)
        api.get("projects/{id}/links", .project(.owner), use: list)
        api.delete("projects/{id}/links/{linkID}", .project(.owner), use: revoke)
        api.get("links/{code}", .link, use: show)
    }

    struct CreateRequest: Decodable {
        var name: String?
        var labelChoices: [String]?
        var expiresInDays: Int?
        var maxUploads: Int64?

        enum CodingKeys: String, CodingKey { case name, labelChoices, expiresInDays, maxUploads }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decodeIfPresentNotNull(String.self, forKey: .name)
            labelChoices = try container.decodeIfPresentNotNull([String].self, forKey: .labelChoices)
            expiresInDays = try container.decodeIfPresentNotNull(Int.self, forKey: .expiresInDays)
            maxUploads = try container.decodeIfPresentNotNull(Int64.self, forKey: .maxUploads)
        }
    }

    struct LinkBody: ResponseEncodable {
        var link: UploadLink
        /// The code and page, only when the link is created.
        var code: String?
        var url: String?
    }

    @Sendable func create(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<LinkBody> {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let body = try await request.decode(as: CreateRequest.self, context: context)
        let name = try NameRules.validated(body.name ?? "upload link", field: "name", maxLength: 100)
        var choices: [String]?
        if let labels = body.labelChoices {
            guard !labels.isEmpty, labels.count <= 100 else {
                throw Problem.badRequest("label_choices must hold 1 to 100 labels", field: "label_choices")
            }
            choices = try ImageLibrary.humanLabels(labels, for: project).map(\.name)
        }
        if let cap = body.maxUploads, !(1...10_000_000).contains(cap) {
            throw Problem.badRequest("max_uploads must be from 1 to 10000000", field: "max_uploads")
        }
        let code = Secrets.random()
        let link = try await store.links.create(
            projectID: project.id, codeHash: Secrets.hash(code), name: name, labelChoices: choices,
            expiresAt: try Parameters.expiry(days: body.expiresInDays), maxUploads: body.maxUploads,
            createdBy: context.caller.user?.id)
        await audit.record(
            context.caller, .linkCreated, project: project.id, subject: "link \(link.id)", detail: ["name": name])
        return EditedResponse(status: .created, response: LinkBody(link: link, code: code, url: "/l/\(code)"))
    }

    @Sendable func list(_ request: Request, context: IrisRequestContext) async throws -> APIModel.Page<UploadLink> {
        APIModel.Page(items: try await store.links.list(projectID: try Parameters.projectID(context)))
    }

    @Sendable func revoke(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let projectID = try Parameters.projectID(context)
        let id = try Parameters.id(context, "linkID", noun: "link")
        guard try await store.links.revoke(id: id, projectID: projectID) else {
            throw Problem.notFound("project \(projectID) has no live link \(id)")
        }
        await audit.record(context.caller, .linkRevoked, project: projectID, subject: "link \(id)")
        return Response(status: .noContent)
    }

    struct LinkInfo: ResponseEncodable {
        var projectName: String
        var labelChoices: [String]?
        var uploadsLeft: Int64?
        var expiresAt: Date?
    }

    @Sendable func show(_ request: Request, context: IrisRequestContext) async throws -> LinkInfo {
        let link = try await guardian.link(context)
        let project = try await store.projects.require(id: link.projectID)
        return LinkInfo(
            projectName: project.name, labelChoices: link.labelChoices ?? project.labelSet,
            uploadsLeft: link.maxUploads.map { $0 - link.uploads }, expiresAt: link.expiresAt)
    }
}
