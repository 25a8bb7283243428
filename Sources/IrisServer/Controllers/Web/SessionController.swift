import Foundation
import Hummingbird
import HummingbirdBcrypt
import IrisCore
import IrisServices
import IrisStore
import NIOPosix

/// Signing in and out of the web pages (`GET /api/v1/me` says who is signed in: `UserController`).
struct SessionController {
    let store: IrisStore
    let audit: AuditLog
    let resources: ServerResources
    let bcryptCost: UInt8
    let secureCookies: Bool
    /// Failed sign-ins over 15 minutes, per (client address, username) pair (refused at the
    /// limit), and per username and per client address (slowed from half of it).
    let signInFailures: RateLimiter

    func addRoutes(to web: Routes<Router<IrisRequestContext>>) {
        web.get("login", .open, use: loginPage)
        web.post("login", .open, use: login)
        web.post("logout", .signedIn, use: logout)
    }

    static let sessionLifetime: TimeInterval = 30 * 24 * 3600
    static let loginCSRFCookie = "iris_login_csrf"

    // MARK: - Web sign-in

    @Sendable func loginPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        try renderLogin(request, error: nil, status: .ok)
    }

    struct LoginPage: PageView {
        var title = "Sign in"
        var loginCSRF: String
        /// Where to go once signed in (a path on this site).
        var next: String
        var error: String
        var hasError: Bool
    }

    private func renderLogin(_ request: Request, error: String?, status: HTTPResponse.Status) throws -> Response {
        // Double-submit cookie: the form carries the same random value as the cookie.
        let csrf = Secrets.random()
        let next = Self.safeNext(request.uri.queryParameters.get("next").map { String($0) })
        var response = try resources.page(
            "login", LoginPage(loginCSRF: csrf, next: next, error: error ?? "", hasError: error != nil),
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
        let name = String(username.prefix(100))
        // Refused only for the client that failed, and only for that username: someone guessing
        // at `admin` (or everyone behind one proxy) must not lock the real admin out.
        let pair = "pair:\(context.clientKey)|\(name)"
        try await signInFailures.check([pair], what: "failed sign-ins for this username from your address")
        // Slowed before limited: from half the limit of failures for this username (from any
        // client) or from this client (for any username) on, each attempt waits a second longer.
        let wide = ["user:\(name)", "address:\(context.clientKey)"]
        var failures = await signInFailures.count(pair)
        for key in wide { failures = max(failures, await signInFailures.count(key)) }
        let slowFrom = max(await signInFailures.limit / 2, 1)
        if failures >= slowFrom { try await Task.sleep(for: .seconds(min(failures - slowFrom + 1, 5))) }
        let cost = bcryptCost
        var verified: User?
        if let (user, hash) = try await store.accounts.credentials(username: username) {
            if try await NIOThreadPool.singleton.runIfActive({ Bcrypt.verify(password, hash: hash) }) {
                verified = user
            }
        } else {
            // Spend the same time on unknown users, so timing does not reveal which names exist.
            _ = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
        }
        guard let user = verified else {
            for key in [pair] + wide { await signInFailures.record(key) }
            await audit.record(.anonymous, .signInFailed, detail: ["username": name])
            return try renderLogin(request, error: "Wrong username or password.", status: .unauthorized)
        }
        await signInFailures.clear(pair)
        // Only someone who knows the password learns that the account is disabled.
        guard !user.disabled else {
            await audit.record(.anonymous, .signInFailed, detail: ["username": name, "reason": "disabled"])
            return try renderLogin(
                request, error: "This account is disabled. Ask an administrator to enable it.", status: .forbidden)
        }
        let session = Secrets.random()
        try await store.accounts.createSession(
            userID: user.id, idHash: Secrets.hash(session), csrfToken: Secrets.random(),
            expiresAt: Date().addingTimeInterval(Self.sessionLifetime))
        await audit.record(as: .init(kind: "user", id: user.id, name: user.username), .signedIn)
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
        await audit.record(context.caller, .signedOut)
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

    /// Only local paths: never redirect to another site after signing in. `next` must be a
    /// same-origin relative reference: one leading `/` (not `//`), no backslash and no control
    /// character, before or after percent-decoding, because browsers drop TAB, CR and LF from
    /// a `Location` (`/\t/evil.example` becomes `//evil.example`) and read `\` as `/`.
    /// Anything else answers "/".
    static func safeNext(_ next: String?) -> String {
        guard let next, let decoded = next.removingPercentEncoding else { return "/" }
        for text in [next, decoded] {
            guard text.hasPrefix("/"), !text.hasPrefix("//"), !text.contains("\\"),
                !text.unicodeScalars.contains(where: Self.isControl)
            else { return "/" }
        }
        // Parsed, it must name no scheme and no host: a path (with query or fragment) on this site.
        guard let parsed = URLComponents(string: next), parsed.scheme == nil, parsed.host == nil,
            parsed.path.hasPrefix("/")
        else { return "/" }
        return next
    }

    /// C0 controls, DEL and C1 controls.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
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
}
