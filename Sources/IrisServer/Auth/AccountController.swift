import Foundation
import IrisServices
import HTTPTypes
public import Hummingbird
import HummingbirdBcrypt
public import IrisCore
import IrisStore
import NIOCore
import Mustache
import NIOPosix

/// Signing in and out (web), API tokens, users (admin) and project members (owners).
struct AccountController {
    let store: IrisStore
    let audit: AuditLog
    let guardian: AccessGuard
    let resources: ServerResources
    let bcryptCost: UInt8
    let secureCookies: Bool
    /// Failed sign-ins per client address and per username, over 15 minutes.
    let signInFailures: RateLimiter
    let stopping: StopFlag

    static let sessionLifetime: TimeInterval = 30 * 24 * 3600
    static let loginCSRFCookie = "iris_login_csrf"

    func addRoutes(web: Routes<Router<IrisRequestContext>>, api: Routes<RouterGroup<IrisRequestContext>>) {
        web.get("login", .open, use: loginPage)
        web.post("login", .open, use: login)
        web.post("logout", .signedIn, use: logout)
        api.get("me", .signedIn, use: me)
        api.post("tokens", .signedIn, use: createToken)
        api.get("tokens", .signedIn, use: listTokens)
        api.delete("tokens/{tokenID}", .signedIn, use: revokeToken)
        api.get("users", .admin, use: listUsers)
        api.post("users", .admin, use: createUser)
        api.patch("users/{userID}", .admin, use: updateUser)
        api.get("projects/{id}/members", .project(.viewer), use: listMembers)
        api.put("projects/{id}/members/{username}", .project(.owner), use: setMember)
        api.delete("projects/{id}/members/{username}", .project(.owner), use: removeMember)
        api.get("events", .signedIn, use: events)
        web.get("history", .signedIn, use: historyPage)
    }

    // MARK: - Web sign-in

    @Sendable func loginPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        try renderLogin(request, error: nil, status: .ok)
    }

    private func renderLogin(_ request: Request, error: String?, status: HTTPResponse.Status) throws -> Response {
        // Double-submit cookie: the form carries the same random value as the cookie.
        let csrf = Secrets.random()
        let next = Self.safeNext(request.uri.queryParameters.get("next").map { String($0) })
        var response = try resources.page(
            "login", ["title": "Sign in", "loginCSRF": csrf, "next": next, "error": error ?? "", "hasError": error != nil], caller: .anonymous, status: status)
        response.setCookie(Cookie(name: Self.loginCSRFCookie, value: csrf, path: "/login", secure: secure(request), httpOnly: true, sameSite: .strict))
        return response
    }

    @Sendable func login(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let form = try await Self.form(request, context: context)
        guard let sent = form["csrf_token"], let expected = request.cookies[Self.loginCSRFCookie]?.value, Secrets.equal(sent, expected) else {
            throw Problem(status: 403, slug: "csrf", title: "Forbidden", detail: "the sign-in form's CSRF token is missing or stale; reload the page", field: "csrf_token")
        }
        let username = form["username"] ?? ""
        let password = form["password"] ?? ""
        let keys = ["address:\(context.clientKey)", "user:\(username.prefix(100))"]
        try await signInFailures.check(keys, what: "failed sign-ins")
        // Slowed before limited: from half the limit on, each failure costs another second.
        var failures = 0
        for key in keys { failures = max(failures, await signInFailures.count(key)) }
        let slowFrom = max(signInFailures.limit / 2, 1)
        if failures >= slowFrom { try await Task.sleep(for: .seconds(min(failures - slowFrom + 1, 5))) }
        let cost = bcryptCost
        var verified: User?
        if let (user, hash) = try await store.accounts.credentials(username: username), !user.disabled {
            if try await NIOThreadPool.singleton.runIfActive({ Bcrypt.verify(password, hash: hash) }) { verified = user }
        } else {
            // Spend the same time on unknown users, so timing does not reveal which names exist.
            _ = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
        }
        guard let user = verified else {
            for key in keys { await signInFailures.record(key) }
            await audit.record(Event(actorKind: "anonymous", actorID: nil, actorName: "anonymous", action: "auth.sign_in_failed", detail: ["username": String(username.prefix(100))]))
            return try renderLogin(request, error: "Wrong username or password.", status: .unauthorized)
        }
        await signInFailures.clear("user:\(username.prefix(100))")
        let session = Secrets.random()
        try await store.accounts.createSession(
            userID: user.id, idHash: Secrets.hash(session), csrfToken: Secrets.random(), expiresAt: Date().addingTimeInterval(Self.sessionLifetime))
        await audit.record(Event(actorKind: "user", actorID: user.id, actorName: user.username, action: "auth.signed_in"))
        var response = Response(status: .seeOther, headers: [.location: Self.safeNext(form["next"])])
        response.setCookie(Cookie(
            name: AuthMiddleware.sessionCookie, value: session, maxAge: Int(Self.sessionLifetime), path: "/", secure: secure(request), httpOnly: true,
            sameSite: .lax))
        return response
    }

    @Sendable func logout(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let form = try await Self.form(request, context: context)
        if case .session(_, let csrf) = context.caller {
            guard let sent = form["csrf_token"], Secrets.equal(sent, csrf) else {
                throw Problem(status: 403, slug: "csrf", title: "Forbidden", detail: "the sign-out form's CSRF token is missing", field: "csrf_token")
            }
        }
        if let cookie = request.cookies[AuthMiddleware.sessionCookie]?.value {
            try await store.accounts.deleteSession(idHash: Secrets.hash(cookie))
        }
        await audit.record(context.caller, "auth.signed_out")
        var response = Response(status: .seeOther, headers: [.location: "/login"])
        response.setCookie(Cookie(name: AuthMiddleware.sessionCookie, value: "", maxAge: 0, path: "/", secure: secure(request), httpOnly: true, sameSite: .lax))
        return response
    }

    /// Secure cookies when configured, or when a TLS-terminating proxy says the request came over HTTPS.
    func secure(_ request: Request) -> Bool {
        secureCookies || request.headers[.init("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    /// Only local paths: never redirect to another site after signing in.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\") else { return "/" }
        return next
    }

    static func form(_ request: Request, context: IrisRequestContext) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if let key = parts.first { fields[key] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
    }

    // MARK: - API

    struct MeBody: ResponseEncodable {
        var user: User
        var csrfToken: String?
    }

    @Sendable func me(_ request: Request, context: IrisRequestContext) async throws -> MeBody {
        guard let user = context.caller.user else { throw AuthMiddleware.unauthorized("sign in first") }
        if case .session(_, let csrf) = context.caller { return MeBody(user: user, csrfToken: csrf) }
        return MeBody(user: user, csrfToken: nil)
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

    @Sendable func createToken(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<CreatedToken> {
        guard let user = context.caller.user else { throw AuthMiddleware.unauthorized("sign in first") }
        let body = try await request.decode(as: TokenRequest.self, context: context)
        let name = try NameRules.validated(body.name, field: "name", maxLength: 100)
        let scopes = body.scopes ?? [.read]
        guard !scopes.isEmpty else { throw Problem.badRequest("scopes must name at least one of read, write, admin", field: "scopes") }
        if scopes.contains(.admin) && !user.isAdmin { throw AccessGuard.forbidden("only an administrator may create a token with the admin scope") }
        if case .token(_, let current) = context.caller {
            // A token may only create tokens no stronger than itself.
            guard Set(scopes).isSubset(of: Set(current.scopes)), current.projectID == nil || current.projectID == body.projectId else {
                throw AccessGuard.forbidden("a token cannot create a token stronger than itself")
            }
        }
        if let projectID = body.projectId {
            let exists = try await store.projects.find(id: projectID) != nil
            let belongs = user.isAdmin ? true : try await store.accounts.role(projectID: projectID, userID: user.id) != nil
            guard exists && belongs else { throw Problem.notFound("no project has id \(projectID)") }
        }
        let secret = Secrets.newToken()
        let token = try await store.accounts.createToken(
            userID: user.id, name: name, tokenHash: Secrets.hash(secret), scopes: scopes, projectID: body.projectId,
            expiresAt: try Parameters.expiry(days: body.expiresInDays))
        await audit.record(context.caller, "token.created", project: body.projectId, subject: "token \(token.id)", detail: ["name": name])
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

    struct UserList: ResponseEncodable { var items: [User] }

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

    @Sendable func listUsers(_ request: Request, context: IrisRequestContext) async throws -> UserList {
        UserList(items: try await store.accounts.users())
    }

    @Sendable func createUser(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<User> {
        let body = try await request.decode(as: UserRequest.self, context: context)
        let user = try await Accounts(store: store, bcryptCost: bcryptCost).create(username: body.username, password: body.password, isAdmin: body.isAdmin ?? false)
        await audit.record(context.caller, "user.created", subject: user.username)
        return EditedResponse(status: .created, response: user)
    }

    struct UserPatch: Decodable {
        var disabled: Bool?
        var password: String?

        enum CodingKeys: String, CodingKey { case disabled, password }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            disabled = try container.decodeIfPresentNotNull(Bool.self, forKey: .disabled)
            password = try container.decodeIfPresentNotNull(String.self, forKey: .password)
        }
    }

    @Sendable func updateUser(_ request: Request, context: IrisRequestContext) async throws -> User {
        let id = try Parameters.id(context, "userID", noun: "user")
        guard let user = try await store.accounts.user(id: id) else { throw Problem.notFound("no user has id \(id)") }
        let body = try await request.decode(as: UserPatch.self, context: context)
        let accounts = Accounts(store: store, bcryptCost: bcryptCost)
        if let disabled = body.disabled {
            try await store.accounts.setDisabled(userID: id, disabled)
            await audit.record(context.caller, disabled ? "user.disabled" : "user.enabled", subject: user.username)
        }
        if let password = body.password {
            try await accounts.setPassword(userID: id, password)
            await audit.record(context.caller, "user.password_reset", subject: user.username)
        }
        return try await store.accounts.user(id: id) ?? user
    }

    struct Member: ResponseEncodable {
        var username: String
        var role: Role
    }

    struct MemberList: ResponseEncodable { var items: [Member] }

    @Sendable func listMembers(_ request: Request, context: IrisRequestContext) async throws -> MemberList {
        let members = try await store.accounts.members(projectID: try Parameters.projectID(context))
        return MemberList(items: members.map { Member(username: $0.0.username, role: $0.1) })
    }

    struct RoleRequest: Decodable { var role: Role }

    @Sendable func setMember(_ request: Request, context: IrisRequestContext) async throws -> Member {
        let projectID = try Parameters.projectID(context)
        let user = try await member(context)
        let body = try await request.decode(as: RoleRequest.self, context: context)
        try await store.accounts.setRole(projectID: projectID, userID: user.id, body.role)
        await audit.record(context.caller, "member.role_set", project: projectID, subject: user.username, detail: ["role": body.role.rawValue])
        return Member(username: user.username, role: body.role)
    }

    @Sendable func removeMember(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let projectID = try Parameters.projectID(context)
        let user = try await member(context)
        try await store.accounts.setRole(projectID: projectID, userID: user.id, nil)
        await audit.record(context.caller, "member.removed", project: projectID, subject: user.username)
        return Response(status: .noContent)
    }

    private func member(_ context: IrisRequestContext) async throws -> User {
        let username = context.parameters.get("username") ?? ""
        guard let (user, _) = try await store.accounts.credentials(username: username) else {
            throw Problem.notFound("no user is named \"\(username.prefix(100))\"")
        }
        return user
    }

    struct EventBody: Codable, Sendable {
        var id: Int64
        var actor: String
        var actorKind: String
        var action: String
        var projectId: Int64?
        var subject: String?
        var detail: [String: String]
        var createdAt: Date
    }

    struct EventPage: ResponseEncodable {
        var items: [EventBody]
        var nextCursor: String?
    }

    /// `GET /api/v1/events`: Server-Sent Events when the client accepts `text/event-stream`
    /// (as EventSource does), else a JSON page.
    @Sendable func events(_ request: Request, context: IrisRequestContext) async throws -> Response {
        if request.headers[.accept]?.contains("text/event-stream") == true {
            return try await stream(request, context: context)
        }
        return try await listEvents(request, context: context).response(from: request, context: context)
    }

    static func body(_ event: Event) -> EventBody {
        EventBody(
            id: event.id, actor: event.actorName, actorKind: event.actorKind, action: event.action, projectId: event.projectID,
            subject: event.subject, detail: event.detail, createdAt: event.createdAt)
    }

    /// The live stream: events after `Last-Event-ID` (or `cursor`; with neither, from now on),
    /// polled each second, a comment every 15 s to keep proxies from closing it, and an end
    /// after `timeout` seconds (default 300), after which EventSource reconnects and resumes.
    func stream(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let visible = try await guardian.visibleProjects(context.caller).map { Array($0) }
        let resume = try request.headers[.init("Last-Event-ID")!].map { raw -> Int64 in
            guard let id = Int64(raw), id >= 0 else { throw Problem.badRequest("Last-Event-ID must be an event id", field: "Last-Event-ID") }
            return id
        }
        var start = try resume ?? Parameters.cursor(request)
        if start == nil { start = try await store.events.latest(projectIDs: nil, limit: 1).first?.id ?? 0 }
        let timeoutText = request.uri.queryParameters.get("timeout") ?? "300"
        guard let timeout = Int(timeoutText), (1...3600).contains(timeout) else {
            throw Problem.badRequest("timeout must be 1 to 3600 seconds", field: "timeout")
        }
        let store = self.store, stopping = self.stopping, first = start ?? 0
        let body = ResponseBody { writer in
            let encoder = IrisJSONEncoder.makeEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var last = first
            let deadline = ContinuousClock.now + .seconds(timeout)
            var quiet = 0
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            while ContinuousClock.now < deadline && !stopping.isRaised && !Task.isCancelled {
                let events = try await store.events.list(afterID: last, projectIDs: visible, limit: 100)
                for event in events {
                    let data = String(decoding: try encoder.encode(Self.body(event)), as: UTF8.self)
                    try await writer.write(ByteBuffer(string: "id: \(event.id)\nevent: \(event.action)\ndata: \(data)\n\n"))
                    last = event.id
                }
                if events.isEmpty {
                    quiet += 1
                    if quiet % 15 == 0 { try await writer.write(ByteBuffer(string: ": still here\n\n")) }
                    try await Task.sleep(for: .seconds(1))
                }
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"], body: body)
    }

    /// The history page: the newest 200 events the caller may see.
    @Sendable func historyPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let visible = try await guardian.visibleProjects(context.caller).map { Array($0) }
        let rows: [[String: Any]] = try await store.events.latest(projectIDs: visible, limit: 200).map { event in
            [
                "when": event.createdAt.formatted(.iso8601), "actor": event.actorName, "action": event.action,
                "project": event.projectID.map { "\($0)" } ?? "", "subject": event.subject ?? "",
            ]
        }
        return try resources.page("history", ["title": "History", "events": rows, "hasEvents": !rows.isEmpty], caller: context.caller)
    }

    /// Events of the projects the caller may read (all for admins), oldest first after `cursor`.
    @Sendable func listEvents(_ request: Request, context: IrisRequestContext) async throws -> EventPage {
        let limit = try Parameters.limit(request, default: 100, max: 1000)
        let visible = try await guardian.visibleProjects(context.caller)
        let events = try await store.events.list(afterID: try Parameters.cursor(request) ?? 0, projectIDs: visible.map { Array($0) }, limit: limit)
        let items = events.map(Self.body)
        return EventPage(items: items, nextCursor: events.count == limit ? events.last.map { String($0.id) } : nil)
    }
}

extension User: ResponseEncodable {}
