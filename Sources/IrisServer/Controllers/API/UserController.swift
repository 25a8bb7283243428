import Foundation
public import Hummingbird
public import IrisCore
import IrisServices
import IrisStore

/// Users of the instance (administrators), and `GET /api/v1/me`: who the caller is.
struct UserController {
    let store: IrisStore
    let audit: AuditLog
    let bcryptCost: UInt8
    /// Shared with sign-in: wrong current passwords count as failed sign-ins.
    let signInFailures: RateLimiter

    func addRoutes(to api: Routes<RouterGroup<IrisRequestContext>>) {
        api.get("users", .admin, use: listUsers)
        api.post("users", .admin, use: createUser)
        api.patch("users/{userID}", .admin, use: updateUser)
        api.get("me", .signedIn, use: me)
        api.post("me/password", .signedIn, use: changePassword)
    }

    struct UserRequest: Decodable {
        var username: String
        var password: String
        var isAdmin: Bool?

        enum CodingKeys: String, CodingKey { case username, password, isAdmin }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            username = try container.decode(String.self, forKey: .username)
            password = try container.decode(String.self, forKey: .password)
            isAdmin = try container.decodeIfPresentNotNull(Bool.self, forKey: .isAdmin)
        }
    }

    @Sendable func listUsers(_ request: Request, context: IrisRequestContext) async throws -> APIModel.Page<User> {
        APIModel.Page(items: try await store.accounts.users())
    }

    @Sendable func createUser(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<User> {
        let body = try await request.decode(as: UserRequest.self, context: context)
        let user = try await Accounts(store: store, bcryptCost: bcryptCost).create(
            username: body.username, password: body.password, isAdmin: body.isAdmin ?? false)
        await audit.record(context.caller, .userCreated, subject: user.username)
        return EditedResponse(status: .created, response: user)
    }

    struct UserPatch: Decodable {
        var disabled: Bool?
        var isAdmin: Bool?
        var password: String?

        enum CodingKeys: String, CodingKey { case disabled, isAdmin, password }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            disabled = try container.decodeIfPresentNotNull(Bool.self, forKey: .disabled)
            isAdmin = try container.decodeIfPresentNotNull(Bool.self, forKey: .isAdmin)
            password = try container.decodeIfPresentNotNull(String.self, forKey: .password)
        }
    }

    @Sendable func updateUser(_ request: Request, context: IrisRequestContext) async throws -> User {
        let id = try Parameters.id(context, "userID", noun: "user")
        guard let user = try await store.accounts.user(id: id) else { throw Problem.notFound("no user has id \(id)") }
        let body = try await request.decode(as: UserPatch.self, context: context)
        let accounts = Accounts(store: store, bcryptCost: bcryptCost)
        if body.disabled != nil || body.isAdmin != nil {
            // 409 when the instance would be left without an active administrator.
            try await store.accounts.updateUser(id: id, disabled: body.disabled, isAdmin: body.isAdmin)
            if let disabled = body.disabled {
                await audit.record(context.caller, disabled ? .userDisabled : .userEnabled, subject: user.username)
            }
            if let isAdmin = body.isAdmin {
                await audit.record(
                    context.caller, isAdmin ? .userMadeAdmin : .userAdminRemoved, subject: user.username)
            }
        }
        if let password = body.password {
            try await accounts.setPassword(userID: id, password)
            await audit.record(context.caller, .userPasswordReset, subject: user.username)
        }
        return try await store.accounts.user(id: id) ?? user
    }

    struct MeBody: ResponseEncodable {
        var user: User
        var csrfToken: String?
    }

    @Sendable func me(_ request: Request, context: IrisRequestContext) async throws -> MeBody {
        guard let user = context.caller.user else { throw AuthMiddleware.unauthorized("sign in first") }
        if case .session(_, let csrf) = context.caller { return MeBody(user: user, csrfToken: csrf) }
        return MeBody(user: user, csrfToken: nil)
    }
}

extension UserController {
    struct PasswordChange: Decodable {
        var currentPassword: String
        var password: String
    }

    /// The caller changes their own password: 204, or 403 naming `current_password` when it
    /// is wrong (failures are counted with the sign-in ones: the same limit stops guessing).
    @Sendable func changePassword(_ request: Request, context: IrisRequestContext) async throws -> Response {
        guard let user = context.caller.user else { throw AuthMiddleware.unauthorized("sign in first") }
        let body = try await request.decode(as: PasswordChange.self, context: context)
        let key = "user:\(user.username)"
        try await signInFailures.check([key], what: "wrong current passwords for this user")
        do {
            try await Accounts(store: store, bcryptCost: bcryptCost).changePassword(
                of: user, current: body.currentPassword, to: body.password)
        } catch let refusal as Refusal where refusal.field == "current_password" {
            await signInFailures.record(key)
            throw refusal
        }
        await audit.record(context.caller, .userPasswordChanged, subject: user.username)
        return Response(status: .noContent)
    }
}

extension User: ResponseEncodable {}
