import Foundation
import HTTPTypes
public import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// Names the caller of every request from its credentials: `Authorization: Bearer
/// iris_…` or the `iris_session` cookie; on the Label Studio backend's routes also `Basic`
/// with the token as the password (Label Studio's "Connect model" form offers Basic only).
/// Credentials that are present but malformed, unknown, expired, revoked or of a disabled user
/// are a 401, never a silent downgrade to anonymous (except a stale session cookie, which just
/// means "signed out").
/// A web session must send its CSRF token (`X-CSRF-Token`) with every change.
public struct AuthMiddleware: RouterMiddleware {
    public typealias Context = IrisRequestContext

    static let sessionCookie = "iris_session"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!
    /// Form posts that carry their CSRF token in the form, checked by their handler.
    static let formPosts: Set<String> = ["/login", "/logout"]

    let store: IrisStore
    /// Record each token's last use (not in demo or read-only mode, which write nothing).
    var touchTokens = true

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var context = context
        if let authorization = request.headers[.authorization] {
            if Self.acceptsBasic(request.uri.path), let token = try Self.basicPassword(authorization) {
                context.caller = try await bearer("Bearer \(token)")
            } else {
                context.caller = try await bearer(authorization)
            }
        } else if let cookie = request.cookies[Self.sessionCookie]?.value {
            guard Secrets.isWellFormed(cookie) else {
                throw Self.unauthorized("the session cookie is malformed; sign in again")
            }
            if let (user, csrf) = try await store.accounts.session(idHash: Secrets.hash(cookie)) {
                context.caller = .session(user, csrfToken: csrf)
                // Link uploads act on the link's authority, not the session's: no CSRF token needed.
                let linkRoute = request.uri.path.hasPrefix("/api/v1/links/")
                if !Self.isSafe(request.method) && !Self.formPosts.contains(request.uri.path) && !linkRoute {
                    guard let sent = request.headers[Self.csrfHeader], Secrets.equal(sent, csrf) else {
                        throw Problem.forbidden(
                            "the request lacks its CSRF token (X-CSRF-Token)", slug: "csrf", field: "X-CSRF-Token")
                    }
                }
            }
        }
        return try await next(request, context)
    }

    private func bearer(_ header: String) async throws -> Caller {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Self.unauthorized(
                "the Authorization header must be \"Bearer <token>\" (Basic, with the token as the password, only on the Label Studio routes)"
            )
        }
        let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
        guard Secrets.isWellFormedToken(token) else { throw Self.unauthorized("the token is malformed") }
        guard let (user, record) = try await store.accounts.token(hash: Secrets.hash(token)) else {
            throw Self.unauthorized("the token is not known")
        }
        if record.revokedAt != nil { throw Self.unauthorized("the token was revoked") }
        if let expiry = record.expiresAt, expiry <= Date() { throw Self.unauthorized("the token expired") }
        if user.disabled { throw Self.unauthorized("the token's user is disabled") }
        if touchTokens { try? await store.accounts.touchToken(id: record.id) }
        return .token(user, record)
    }

    /// The caller the request's credentials name now, or nil when they no longer name anyone
    /// (revoked or expired token, ended session, disabled user). For long responses (event
    /// streams) that must not keep the access they started with.
    func currentCaller(of request: Request) async -> Caller? {
        if let authorization = request.headers[.authorization] {
            return try? await bearer(authorization)
        }
        guard let cookie = request.cookies[Self.sessionCookie]?.value, Secrets.isWellFormed(cookie),
            let (user, csrf) = try? await store.accounts.session(idHash: Secrets.hash(cookie)), !user.disabled
        else { return nil }
        return .session(user, csrfToken: csrf)
    }

    /// The Label Studio backend's routes (`/api/v1/projects/{id}/label-studio/…`) take Basic.
    static func acceptsBasic(_ path: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return segments.count >= 6 && segments[1] == "api" && segments[2] == "v1" && segments[3] == "projects"
            && segments[5] == "label-studio"
    }

    /// The password of `Basic base64(user:password)`, or nil for another scheme; a 401 when
    /// the Basic credentials cannot be read. The user name is not looked at.
    static func basicPassword(_ header: String) throws -> String? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic" else { return nil }
        guard parts[1].utf8.count <= 512,
            let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else {
            throw unauthorized("Basic credentials must be base64 of \"user:token\" with an Iris token as the password")
        }
        return String(text[text.index(after: colon)...])
    }

    static func isSafe(_ method: HTTPRequest.Method) -> Bool {
        method == .get || method == .head || method == .options
    }

    static func unauthorized(_ detail: String) -> Problem {
        Problem.unauthorized(detail, field: "Authorization", challenge: true)
    }
}
