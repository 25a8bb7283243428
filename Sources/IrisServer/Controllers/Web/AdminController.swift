import Foundation
import Hummingbird
import IrisCore
import IrisML
import IrisServices
import IrisStore

/// Pages for managing one's tokens, a project's members, and (administrators) users,
/// everyone's tokens, the models and the instance's settings. Every action on them calls `/api/v1`.
struct AdminController {
    let store: IrisStore
    let resources: ServerResources
    let settings: IrisSettings
    let models: ModelRegistry

    func addRoutes(to web: Routes<Router<IrisRequestContext>>) {
        web.get("account/tokens", .signedIn, use: tokensPage)
        web.get("projects/{id}/members", .project(.viewer), use: membersPage)
        web.get("admin", .admin, use: adminPage)
    }

    static func row(_ token: APIToken) -> [String: Any] {
        let state =
            token.revokedAt != nil ? "revoked" : (token.expiresAt.map { $0 <= Date() } == true ? "expired" : "live")
        return [
            "id": token.id, "name": token.name, "scopes": token.scopes.map(\.rawValue).joined(separator: ", "),
            "project": token.projectID.map { "\($0)" } ?? "all",
            "expires": token.expiresAt?.formatted(.iso8601) ?? "never",
            "lastUsed": token.lastUsedAt?.formatted(.iso8601) ?? "never", "state": state, "live": state == "live",
            "user": token.userID,
        ]
    }

    @Sendable func tokensPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        guard let user = context.caller.user else { throw AuthMiddleware.unauthorized("sign in first") }
        let tokens = try await store.accounts.tokens(userID: user.id).map(Self.row)
        return try resources.page(
            "tokens", ["title": "API tokens", "tokens": tokens, "hasTokens": !tokens.isEmpty, "isAdmin": user.isAdmin],
            caller: context.caller)
    }

    @Sendable func membersPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let members: [[String: Any]] = try await store.accounts.members(projectID: project.id).map {
            ["username": $0.0.username, "role": $0.1.rawValue]
        }
        return try resources.page(
            "members",
            [
                "title": "Members of \(project.name)", "projectID": project.id, "projectName": project.name,
                "members": members,
                "roles": Role.allCases.map(\.rawValue),
            ],
            caller: context.caller)
    }

    @Sendable func adminPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let users: [[String: Any]] = try await store.accounts.users().map {
            ["id": $0.id, "username": $0.username, "admin": $0.isAdmin, "disabled": $0.disabled]
        }
        let tokens = try await store.accounts.tokens(userID: nil).map(Self.row)
        let effective: [[String: String]] = [
            ["key": "mode", "value": settings.mode.rawValue],
            ["key": "db.url", "value": "\(settings.database)"],
            ["key": "data.dir", "value": settings.dataDirectory.path],
            ["key": "upload.max_bytes", "value": "\(settings.limits.maxUploadBytes)"],
            ["key": "image.max_pixels", "value": "\(settings.limits.maxPixels)"],
            ["key": "upload.rate_limit", "value": "\(settings.uploadRateLimit) per minute"],
            ["key": "auth.sign_in_limit", "value": "\(settings.signInLimit) failures per 15 minutes"],
            ["key": "auth.secure_cookies", "value": "\(settings.secureCookies)"],
            ["key": "models.dir", "value": settings.models.folder.path],
            [
                "key": "models.remote_allow",
                "value": settings.models.remoteAllow.origins.sorted().joined(separator: ", "),
            ],
        ]
        let modelRows: [[String: Any]] = models.entries.map { entry in
            [
                "name": entry.name, "tasks": entry.manifest?.tasks.map(\.rawValue).joined(separator: ", ") ?? "",
                "place": entry.manifest?.remote.map { "remote: \($0.model) at \($0.url)" } ?? "models folder",
                "state": entry.problem.map { "unavailable: \($0)" } ?? "ready" + (entry.note.map { " (\($0))" } ?? ""),
                "available": entry.available, "registered": entry.registered,
            ]
        }
        return try resources.page(
            "admin",
            ["title": "Administration", "users": users, "tokens": tokens, "settings": effective, "models": modelRows],
            caller: context.caller)
    }
}
