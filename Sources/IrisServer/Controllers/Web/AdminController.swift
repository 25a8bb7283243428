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

    struct TokenRow {
        var id: Int64
        var name: String
        var scopes: String
        var project: String
        var expires: String
        var lastUsed: String
        var state: String
        var live: Bool
        var user: Int64
        var projectID: Int64?

        init(_ token: APIToken) {
            state =
                token.revokedAt != nil
                ? "revoked" : (token.expiresAt.map { $0 <= Date() } == true ? "expired" : "live")
            id = token.id
            name = token.name
            scopes = token.scopes.map(\.rawValue).joined(separator: ", ")
            project = token.projectID.map { "\($0)" } ?? "all"
            expires = token.expiresAt?.formatted(.iso8601) ?? "never"
            lastUsed = token.lastUsedAt?.formatted(.iso8601) ?? "never"
            live = state == "live"
            user = token.userID
            projectID = token.projectID
        }
    }

    struct TokensPage: PageView {
        struct ProjectChoice {
            var id: Int64
            var name: String
        }
        var title = "Your account"
        var tokens: [TokenRow]
        var hasTokens: Bool
        var isAdmin: Bool
        /// What a token may be limited to: the projects the user belongs to (all, for an administrator).
        var projects: [ProjectChoice]
    }

    /// How many projects the token form offers (and names in the list) at most.
    static let tokenProjectChoices = 500

    @Sendable func tokensPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        guard let user = context.caller.user else { throw AuthMiddleware.unauthorized("sign in first") }
        let only = user.isAdmin ? nil : try await store.accounts.projectIDs(userID: user.id)
        let projects = try await store.projects.list(after: nil, limit: Self.tokenProjectChoices, only: only)
        let names = Dictionary(uniqueKeysWithValues: projects.map { ($0.id, $0.name) })
        var tokens = try await store.accounts.tokens(userID: user.id).map(TokenRow.init)
        // A token's project by name where the user still sees it (its id otherwise).
        for index in tokens.indices {
            if let id = tokens[index].projectID, let name = names[id] { tokens[index].project = name }
        }
        return try resources.page(
            "tokens",
            TokensPage(
                tokens: tokens, hasTokens: !tokens.isEmpty, isAdmin: user.isAdmin,
                projects: projects.map { .init(id: $0.id, name: $0.name) }),
            caller: context.caller)
    }

    struct MembersPage: PageView {
        struct Member {
            var username: String
            var role: String
        }
        var title: String
        var projectID: Int64
        var projectName: String
        var members: [Member]
        var roles = Role.allCases.map(\.rawValue)
    }

    @Sendable func membersPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let members = try await store.accounts.members(projectID: project.id).map {
            MembersPage.Member(username: $0.0.username, role: $0.1.rawValue)
        }
        return try resources.page(
            "members",
            MembersPage(
                title: "Members of \(project.name)", projectID: project.id, projectName: project.name,
                members: members),
            caller: context.caller)
    }

    struct AdminPage: PageView {
        struct User {
            var id: Int64
            var username: String
            var admin: Bool
            var disabled: Bool
        }
        struct Setting {
            var key: String
            var value: String
        }
        struct ModelRow {
            var name: String
            var tasks: String
            var place: String
            var state: String
            var available: Bool
            var registered: Bool
        }
        var title = "Administration"
        var users: [User]
        var tokens: [TokenRow]
        var settings: [Setting]
        var models: [ModelRow]
    }

    @Sendable func adminPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let users = try await store.accounts.users().map {
            AdminPage.User(id: $0.id, username: $0.username, admin: $0.isAdmin, disabled: $0.disabled)
        }
        let effective: [(String, String)] = [
            ("mode", settings.mode.rawValue),
            ("db.url", "\(settings.database)"),
            ("data.dir", settings.dataDirectory.path),
            ("upload.max_bytes", "\(settings.limits.maxUploadBytes)"),
            ("image.max_pixels", "\(settings.limits.maxPixels)"),
            ("upload.rate_limit", "\(settings.uploadRateLimit) per minute"),
            ("auth.sign_in_limit", "\(settings.signInLimit) failures per 15 minutes"),
            ("auth.secure_cookies", "\(settings.secureCookies)"),
            ("models.dir", settings.models.folder.path),
            ("models.remote_allow", settings.models.remoteAllow.origins.sorted().joined(separator: ", ")),
        ]
        let modelRows = models.entries.map { entry in
            AdminPage.ModelRow(
                name: entry.name, tasks: entry.manifest?.tasks.map(\.rawValue).joined(separator: ", ") ?? "",
                place: entry.manifest?.remote.map { "remote: \($0.model) at \($0.url)" } ?? "models folder",
                state: entry.problem.map { "unavailable: \($0)" } ?? "ready" + (entry.note.map { " (\($0))" } ?? ""),
                available: entry.available, registered: entry.registered)
        }
        return try resources.page(
            "admin",
            AdminPage(
                users: users, tokens: try await store.accounts.tokens(userID: nil).map(TokenRow.init),
                settings: effective.map { AdminPage.Setting(key: $0.0, value: $0.1) }, models: modelRows),
            caller: context.caller)
    }
}
