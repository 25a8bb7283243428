import Foundation
import Hummingbird
import HummingbirdBcrypt
import IrisCore
import IrisServices
import IrisStore
import NIOPosix

/// Signing in and out of the web pages, and `GET /api/v1/me`.
struct SessionController {
    let store: IrisStore
    let audit: AuditLog
    let resources: ServerResources
    let bcryptCost: UInt8
    let secureCookies: Bool
    /// Failed sign-ins per client address and per username, over 15 minutes.
    let signInFailures: RateLimiter

    func addRoutes(web: Routes<Router<IrisRequestContext>>, api: Routes<RouterGroup<IrisRequestContext>>) {
        web.get("login", .open, use: loginPage)
        web.post("login", .open, use: login)
        web.post("logout", .signedIn, use: logout)
        api.get("me", .signedIn, use: me)
    }

    static let sessionLifetime: TimeInterval = 30 * 24 * 3600
    static let loginCSRFCookie = "iris_login_csrf"

    // MARK: - Web sign-in

    @Sendable func loginPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        try renderLogin(request, error: nil, status: .ok)
    }

    private func renderLogin(_ request: Request, error: String?, status: HTTPResponse.Status) throws -> Response {
        // Double-submit cookie: the form carries the same random value as the cookie.
        let csrf = Secrets.random()
        let next = Self.safeNext(request.uri.queryParameters.get("next").map { String($0) })
        var response = try resources.page(
            "login",
            ["title": "Sign in", "loginCSRF": csrf, "next": next, "error": error ?? "", "hasError": error != nil],
            caller: .anonymous, status: status)
        response.setCookie(
            Cookie(
                name: Self.loginCSRFCookie, value: csrf, path: "/login", secure: secure(request), httpOnly: true,
                sameSite: .strict))
        return response
    }

    @Sendable func login(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let form = try await Self.form(request, context: context)
        guard let sent = form["csrf_token"], let expected = request.cookies[Self.loginCSRFCookie]?.value,
            Secrets.equal(sent, expected)
        else {
            throw Problem.forbidden(
                "the sign-in form's CSRF token is missing or stale; reload the page", slug: "csrf", field: "csrf_token")
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
            if try await NIOThreadPool.singleton.runIfActive({ Bcrypt.verify(password, hash: hash) }) {
                verified = user
            }
        } else {
            // Spend the same time on unknown users, so timing does not reveal which names exist.
            _ = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
        }
        guard let user = verified else {
            for key in keys { await signInFailures.record(key) }
            await audit.record(
                Event(
                    actorKind: "anonymous", actorID: nil, actorName: "anonymous", action: "auth.sign_in_failed",
                    detail: ["username": String(username.prefix(100))]))
            return try renderLogin(request, error: "Wrong username or password.", status: .unauthorized)
        }
        await signInFailures.clear("user:\(username.prefix(100))")
        let session = Secrets.random()
        try await store.accounts.createSession(
            userID: user.id, idHash: Secrets.hash(session), csrfToken: Secrets.random(),
            expiresAt: Date().addingTimeInterval(Self.sessionLifetime))
        await audit.record(
            Event(actorKind: "user", actorID: user.id, actorName: user.username, action: "auth.signed_in"))
        var response = Response(status: .seeOther, headers: [.location: Self.safeNext(form["next"])])
        response.setCookie(
            Cookie(
                name: AuthMiddleware.sessionCookie, value: session, maxAge: Int(Self.sessionLifetime), path: "/",
                secure: secure(request), httpOnly: true,
                sameSite: .lax))
        return response
    }

    @Sendable func logout(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let form = try await Self.form(request, context: context)
        if case .session(_, let csrf) = context.caller {
            guard let sent = form["csrf_token"], Secrets.equal(sent, csrf) else {
                throw Problem.forbidden(
                    "the sign-out form's CSRF token is missing", slug: "csrf", field: "csrf_token")
            }
        }
        if let cookie = request.cookies[AuthMiddleware.sessionCookie]?.value {
            try await store.accounts.deleteSession(idHash: Secrets.hash(cookie))
        }
        await audit.record(context.caller, "auth.signed_out")
        var response = Response(status: .seeOther, headers: [.location: "/login"])
        response.setCookie(
            Cookie(
                name: AuthMiddleware.sessionCookie, value: "", maxAge: 0, path: "/", secure: secure(request),
                httpOnly: true, sameSite: .lax))
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
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if let key = parts.first { fields[key] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
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
