import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// API tokens: create (shown once), list and revoke one's own.
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
            throw Problem.forbidden("only an administrator may create a token with the admin scope")
        }
        if case .token(_, let current) = context.caller {
            // A token may only create tokens no stronger than itself.
            guard Set(scopes).isSubset(of: Set(current.scopes)),
                current.projectID == nil || current.projectID == body.projectId
            else {
                throw Problem.forbidden("a token cannot create a token stronger than itself")
            }
        }
        if let projectID = body.projectId {
            let exists = try await store.projects.find(id: projectID) != nil
            let belongs =
                user.isAdmin ? true : try await store.accounts.role(projectID: projectID, userID: user.id) != nil
            guard exists && belongs else { throw Problem.notFound("no project has id \(projectID)") }
        }
        let secret = Secrets.newToken()
        let token = try await store.accounts.createToken(
            userID: user.id, name: name, tokenHash: Secrets.hash(secret), scopes: scopes, projectID: body.projectId,
            expiresAt: try Parameters.expiry(days: body.expiresInDays))
        await audit.record(
            context.caller, "token.created", project: body.projectId, subject: "token \(token.id)",
            detail: ["name": name])
        return EditedResponse(status: .created, response: CreatedToken(token: secret, details: token))
    }

    struct TokenList: ResponseEncodable { var items: [APIToken] }

    @Sendable func listTokens(_ request: Request, context: IrisRequestContext) async throws -> TokenList {
        guard let user = context.caller.user else { throw AuthMiddleware.unauthorized("sign in first") }
        let all: Bool
        switch request.uri.queryParameters.get("all") {
        case nil, "false": all = false
        case "true": all = user.isAdmin
        default: throw Problem.badRequest("all must be true or false", field: "all")
        }
        return TokenList(items: try await store.accounts.tokens(userID: all ? nil : user.id))
    }

    @Sendable func revokeToken(_ request: Request, context: IrisRequestContext) async throws -> Response {
        guard let user = context.caller.user else { throw AuthMiddleware.unauthorized("sign in first") }
        let id = try Parameters.id(context, "tokenID", noun: "token")
        guard try await store.accounts.revokeToken(id: id, userID: user.isAdmin ? nil : user.id) else {
            throw Problem.notFound("you have no live token with id \(id)")
        }
        await audit.record(context.caller, "token.revoked", subject: "token \(id)")
        return Response(status: .noContent)
    }
}
