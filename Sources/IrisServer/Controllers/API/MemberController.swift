import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// A project's members and their roles (owners change them).
struct MemberController {
    let store: IrisStore
    let audit: AuditLog

    func addRoutes(to api: Routes<RouterGroup<IrisRequestContext>>) {
        api.get("projects/{id}/members", .project(.viewer), use: listMembers)
        api.put("projects/{id}/members/{username}", .project(.owner), use: setMember)
        api.delete("projects/{id}/members/{username}", .project(.owner), use: removeMember)
    }

    struct Member: ResponseEncodable {
        var username: String
        var role: Role
    }

    @Sendable func listMembers(_ request: Request, context: IrisRequestContext) async throws -> APIModel.Page<Member> {
        let members = try await store.accounts.members(projectID: try Parameters.projectID(context))
        return APIModel.Page(items: members.map { Member(username: $0.0.username, role: $0.1) })
    }

    struct RoleRequest: Decodable { var role: Role }

    @Sendable func setMember(_ request: Request, context: IrisRequestContext) async throws -> Member {
        let projectID = try Parameters.projectID(context)
        let user = try await member(context)
        let body = try await request.decode(as: RoleRequest.self, context: context)
        // 409 when this would demote the project's last owner.
        try await store.accounts.changeRole(projectID: projectID, userID: user.id, body.role)
        await audit.record(
            context.caller, .memberRoleSet, project: projectID, subject: user.username,
            detail: ["role": body.role.rawValue])
        return Member(username: user.username, role: body.role)
    }

    @Sendable func removeMember(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let projectID = try Parameters.projectID(context)
        let user = try await member(context)
        // 409 when this would remove the project's last owner.
        try await store.accounts.changeRole(projectID: projectID, userID: user.id, nil)
        await audit.record(context.caller, .memberRemoved, project: projectID, subject: user.username)
        return Response(status: .noContent)
    }

    private func member(_ context: IrisRequestContext) async throws -> User {
        let username = context.parameters.get("username") ?? ""
        guard let (user, _) = try await store.accounts.credentials(username: username) else {
            throw Problem.notFound("no user is named \"\(username.prefix(100))\"")
        }
        return user
    }
}
