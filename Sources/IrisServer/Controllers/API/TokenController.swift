import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// API tokens: create (shown once), list and revoke one's own; administrators (a token: with
/// the admin scope and no project limit) list and revoke everyone's.
struct TokenController {
    let store: IrisStore
    let audit: AuditLog

    func addRoutes(to api: Routes<RouterGroup<IrisRequestContext>>) {
        api.post("tokens", .signedIn, use: createToken)
        api.get("tokens", .signedIn, use: listTokens)
        api.delete("tokens/{tokenID}", .signedIn, use: revokeToken)
    }

    struct TokenRequest: Decodable {
        var name: String
        var scopes: [TokenScope]?
        var projectId: Int64?
        var expiresInDays: Int?

        enum CodingKeys: String, CodingKey { case name, scopes, projectId, expiresInDays }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            scopes = try container.decodeIfPresentNotNull([TokenScope].self, forKey: .scopes)
            projectId = try container.decodeIfPresentNotNull(Int64.self, forKey: .projectId)
            expiresInDays = try container.decodeIfPresentNotNull(Int.self, forKey: .expiresInDays)
        }
    }

    struct CreatedToken: ResponseEncodable {
        /// The secret, shown this once.
        var token: String
        var details: APIToken
    }

    @Sendable func createToken(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<
        CreatedToken
    > {
        guard let user = context.caller.user else { throw AuthMiddleware.unauthorized("sign in first") }
        let body = try await request.decode(as: TokenRequest.self, context: context)
        let name = try NameRules.validated(body.name, field: "name", maxLength: 100)
        let scopes = body.scopes ?? [.read]
        guard !scopes.isEmpty else {
            throw Problem.badRequest("scopes must name at least one of read, write, admin", field: "scopes")
        }
        if scopes.contains(.admin) && !user.isAdmin {
            throw Problem.forbidden("only an administrator may create a token with the admin scope", field: "scopes")
        }
        var projectID = body.projectId
        var expiresAt = try Parameters.expiry(days: body.expiresInDays)
        var parentID: Int64?
        if case .token(_, let current) = context.caller {
            parentID = current.id
            try Self.withinCreator(current, scopes: scopes, projectID: &projectID, expiresAt: &expiresAt)
        }
        if let projectID {
            let exists = try await store.projects.find(id: projectID) != nil
            let belongs =
                context.caller.isAdministrator
                ? true : try await store.accounts.role(projectID: projectID, userID: user.id) != nil
            guard exists && belongs else { throw Problem.notFound("no project has id \(projectID)") }
        }
        let secret = Secrets.newToken()
        let token = try await store.accounts.createToken(
            userID: user.id, name: name, tokenHash: Secrets.hash(secret), scopes: scopes, projectID: projectID,
            expiresAt: expiresAt, parentID: parentID)
        await audit.record(
            context.caller, .tokenCreated, project: projectID, subject: "token \(token.id)",
            detail: ["name": name])
        return EditedResponse(status: .created, response: CreatedToken(token: secret, details: token))
    }

    /// A token made with a token stays within its creator: no scope it lacks, no project
    /// beyond its limit, no life past its expiry. What the request leaves out (`project_id`,
    /// `expires_in_days`) is taken from the creator; what it asks beyond the creator is a 403
    /// naming the field.
    static func withinCreator(
        _ creator: APIToken, scopes: [TokenScope], projectID: inout Int64?, expiresAt: inout Date?, now: Date = Date()
    ) throws {
        let beyond = Set(scopes).subtracting(creator.scopes)
        guard beyond.isEmpty else {
            let names = TokenScope.allCases.filter(beyond.contains).map(\.rawValue).joined(separator: ", ")
            throw Problem.forbidden(
                "this token's scopes are \(creator.scopes.map(\.rawValue).joined(separator: ", ")); a token it creates cannot have \(names)",
                field: "scopes")
        }
        if let limited = creator.projectID {
            if let asked = projectID, asked != limited {
                throw Problem.forbidden(
                    "this token is limited to project \(limited); a token it creates cannot reach project \(asked)",
                    field: "project_id")
            }
            projectID = limited
        }
        if let creatorExpiry = creator.expiresAt {
            if let asked = expiresAt, asked > creatorExpiry {
                let days = Int(creatorExpiry.timeIntervalSince(now) / 86_400)
                let most = days >= 1 ? "at most \(days)" : "left out, to expire with it"
                throw Problem.forbidden(
                    "this token expires at \(creatorExpiry.formatted(.iso8601)); a token it creates cannot outlive it (expires_in_days \(most))",
                    field: "expires_in_days")
            }
            expiresAt = expiresAt ?? creatorExpiry
        }
    }

    @Sendable func listTokens(_ request: Request, context: IrisRequestContext) async throws -> APIModel.Page<APIToken> {
        guard let user = context.caller.user else { throw AuthMiddleware.unauthorized("sign in first") }
        let all: Bool
        switch request.uri.queryParameters.get("all") {
        case nil, "false": all = false
        case "true":
            try Self.requireInstanceAdministrator(context.caller, to: "list everyone's tokens")
            all = true
        default: throw Problem.badRequest("all must be true or false", field: "all")
        }
        var tokens = try await store.accounts.tokens(userID: all ? nil : user.id)
        // A token limited to a project sees and revokes only tokens limited to that project:
        // its user's other tokens reach further than it may.
        if let limited = context.caller.limitedToProject { tokens = tokens.filter { $0.projectID == limited } }
        return APIModel.Page(items: tokens)
    }

    @Sendable func revokeToken(_ request: Request, context: IrisRequestContext) async throws -> Response {
        guard let user = context.caller.user else { throw AuthMiddleware.unauthorized("sign in first") }
        let id = try Parameters.id(context, "tokenID", noun: "token")
        let anyones = context.caller.isAdministrator && context.caller.limitedToProject == nil
        if let limited = context.caller.limitedToProject,
            try await store.accounts.tokens(userID: user.id).first(where: { $0.id == id })?.projectID != limited
        {
            throw Problem.notFound("you have no live token with id \(id) limited to project \(limited)")
        }
        guard try await store.accounts.revokeToken(id: id, userID: anyones ? nil : user.id) else {
            throw Problem.notFound("you have no live token with id \(id)")
        }
        await audit.record(context.caller, .tokenRevoked, subject: "token \(id)")
        return Response(status: .noContent)
    }

    /// Administering the instance needs an administrator's session, or their token with the
    /// `admin` scope and no project limit; anyone else gets a 403 saying which is missing.
    static func requireInstanceAdministrator(_ caller: Caller, to action: String) throws {
        guard let user = caller.user, user.isAdmin else {
            throw Problem.forbidden("only an administrator may \(action)")
        }
        guard caller.isAdministrator else {
            throw Problem.forbidden("to \(action), a token needs the admin scope", field: "Authorization")
        }
        guard caller.limitedToProject == nil else {
            throw Problem.forbidden(
                "to \(action), a token must not be limited to one project", field: "Authorization")
        }
    }
}
