import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// `/api/v1/projects`: create, list, read, change and delete projects.
struct ProjectController {
    let store: IrisStore
    let library: ImageLibrary
    let guardian: AccessGuard
    let audit: AuditLog

    /// `label_set` may be null (no label set); other fields may be absent but not null.
    struct CreateRequest: Decodable {
        var name: String
        var description: String?
        var labelSet: [String]?

        enum CodingKeys: String, CodingKey { case name, description, labelSet }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            description = try container.decodeIfPresentNotNull(String.self, forKey: .description)
            labelSet = try container.decodeIfPresent([String].self, forKey: .labelSet)
        }
    }

    /// A PATCH body: absent fields stay as they are; `"label_set": null` clears the set.
    struct PatchRequest: Decodable {
        var name: String?
        var description: String?
        var labelSet: [String]??
        /// `null` goes back to the server's `moderation.threshold`.
        var moderationThreshold: Double??
        var repairDomain: Bool?
        var review: ReviewPolicy?
        var rejectRetentionDays: Int?

        enum CodingKeys: String, CodingKey {
            case name, description, labelSet, moderationThreshold, repairDomain, review, rejectRetentionDays
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decodeIfPresentNotNull(String.self, forKey: .name)
            description = try container.decodeIfPresentNotNull(String.self, forKey: .description)
            labelSet = try container.decodeClearable([String].self, forKey: .labelSet)
            moderationThreshold = try container.decodeClearable(Double.self, forKey: .moderationThreshold)
            repairDomain = try container.decodeIfPresentNotNull(Bool.self, forKey: .repairDomain)
            review = try container.decodeIfPresentNotNull(ReviewPolicy.self, forKey: .review)
            rejectRetentionDays = try container.decodeIfPresentNotNull(Int.self, forKey: .rejectRetentionDays)
        }
    }

    func addRoutes(to group: Routes<RouterGroup<IrisRequestContext>>) {
        group.post("projects", .signedIn, use: create)
        group.get("projects", .signedIn, use: list)
        group.get("projects/{id}", .project(.viewer), use: show)
        group.patch("projects/{id}", .project(.owner), use: update)
        group.delete("projects/{id}", .project(.owner), use: delete)
    }

    @Sendable func create(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<
        APIModel.ProjectBody
    > {
        if case .token(_, let token) = context.caller, token.projectID != nil {
            throw Problem.forbidden("a token limited to one project cannot create projects")
        }
        let body = try await request.decode(as: CreateRequest.self, context: context)
        let name = try NameRules.validated(body.name, field: "name", maxLength: NameRules.maxProjectName)
        let description = try Self.description(body.description ?? "")
        // The creator owns what they create, from the same transaction on.
        let project = try await store.projects.create(
            name: name, description: description, labelSet: try body.labelSet.map(Self.labelSet),
            owner: context.caller.user?.id)
        await audit.record(context.caller, .projectCreated, project: project.id, subject: project.name)
        return EditedResponse(
            status: .created, headers: [.location: "/api/v1/projects/\(project.id)"], response: .init(project))
    }

    @Sendable func list(_ request: Request, context: IrisRequestContext) async throws
        -> APIModel.Page<APIModel.ProjectBody>
    {
        let limit = try Parameters.limit(request)
        let visible = try await guardian.visibleProjects(context.caller)
        let projects = try await store.projects.list(
            after: try Parameters.cursor(request), limit: limit + 1, only: visible.map { Array($0) })
        let page = projects.prefix(limit)
        let next = projects.count > limit ? page.last?.id : nil
        return .init(items: page.map(APIModel.ProjectBody.init), nextCursor: Parameters.encodeCursor(next))
    }

    @Sendable func show(_ request: Request, context: IrisRequestContext) async throws -> APIModel.ProjectBody {
        .init(try await store.projects.require(id: Parameters.projectID(context)))
    }

    @Sendable func update(_ request: Request, context: IrisRequestContext) async throws -> APIModel.ProjectBody {
        let id = try Parameters.projectID(context)
        let body = try await request.decode(as: PatchRequest.self, context: context)
        var patch = ProjectPatch()
        patch.name = try body.name.map {
            try NameRules.validated($0, field: "name", maxLength: NameRules.maxProjectName)
        }
        patch.description = try body.description.map(Self.description)
        if let labelSet = body.labelSet { patch.labelSet = .some(try labelSet.map(Self.labelSet)) }
        if let threshold = body.moderationThreshold {
            if let value = threshold, !(0...1).contains(value) {
                throw Problem.badRequest(
                    "moderation_threshold must be from 0 to 1 (or null for the server's default)",
                    field: "moderation_threshold")
            }
            patch.moderationThreshold = threshold
        }
        patch.repairDomain = body.repairDomain
        patch.review = body.review
        if let days = body.rejectRetentionDays {
            guard (1...3650).contains(days) else {
                throw Problem.badRequest(
                    "reject_retention_days must be from 1 to 3650, not \(days)", field: "reject_retention_days")
            }
            patch.rejectRetentionDays = days
        }
        let project = try await store.projects.update(id: id, patch)
        await audit.record(context.caller, .projectUpdated, project: id, subject: project.name)
        return .init(project)
    }

    @Sendable func delete(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let id = try Parameters.projectID(context)
        try await library.deleteProject(id: id)
        await audit.record(context.caller, .projectDeleted, project: id, subject: "project \(id)")
        return Response(status: .noContent)
    }

    static func description(_ text: String) throws -> String {
        // Counted in code points, as the schema's maxLength counts.
        guard text.unicodeScalars.count <= NameRules.maxDescription else {
            throw Problem.badRequest(
                "description is \(text.unicodeScalars.count) characters; the limit is \(NameRules.maxDescription)",
                field: "description")
        }
        return text
    }

    static func labelSet(_ names: [String]) throws -> [String] {
        guard names.count <= NameRules.maxLabelSet else {
            throw Problem.badRequest(
                "label_set has \(names.count) labels; the limit is \(NameRules.maxLabelSet)", field: "label_set")
        }
        var seen = Set<String>()
        return try names.map { try NameRules.validated($0, field: "label_set", maxLength: NameRules.maxLabel) }.filter {
            seen.insert($0).inserted
        }
    }
}
