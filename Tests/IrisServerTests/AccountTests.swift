import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisServer
import IrisServices
import IrisStore
import IrisTesting
import NIOCore
import Testing

@Suite("Accounts, sessions and tokens")
struct AccountTests {
    /// Signs in through the form as a browser would; returns the session cookie and CSRF token.
    func signIn(_ server: TestServer, username: String, password: String) async throws -> (
        cookie: String, csrf: String, response: TestResponse
    ) {
        let anonymous = server.acting(as: [:])
        let page = try await anonymous.get("/login")
        let formCSRF = try #require(page.text.firstMatch(of: /name="csrf_token" value="([^"]+)"/)?.1)
        let loginCookie = try #require(page.headers[.setCookie]?.firstMatch(of: /iris_login_csrf=([^;]+)/)?.1)
        let form = "username=\(username)&password=\(password)&csrf_token=\(formCSRF)&next=%2F"
        let response = try await anonymous.request(
            .post, "/login",
            headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "iris_login_csrf=\(loginCookie)"],
            body: ByteBuffer(string: form))
        guard let session = response.headers[.setCookie]?.firstMatch(of: /iris_session=([^;]+)/)?.1 else {
            return ("", "", response)
        }
        let me = try await server.acting(as: [.cookie: "iris_session=\(session)"]).get("/api/v1/me").json()
        return (String(session), me["csrf_token"] as? String ?? "", response)
    }

    @Test(
        "a web session works, needs its CSRF token for changes, and a wrong password is refused and recorded",
        arguments: TestDatabase.enabled)
    func sessions(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // act
            let wrong = try await signIn(server, username: "admin", password: "not-the-password")
            let right = try await signIn(server, username: "admin", password: "admin-password")
            // check: the wrong password
            #expect(wrong.response.status == .unauthorized)
            #expect(wrong.response.text.contains("Wrong username or password"))
            // check: the cookie is HttpOnly and SameSite=Lax
            #expect(right.response.status == .seeOther)
            let setCookie = try #require(right.response.headers[.setCookie])
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax"))
            let browser = server.acting(as: [.cookie: "iris_session=\(right.cookie)"])
            #expect(try await browser.get("/").status == .ok)
            // A change without the CSRF token is refused; with it, accepted.
            let forged = try await browser.send(.post, "/api/v1/projects", json: ["name": "forged"])
            #expect(forged.status == .forbidden)
            #expect(try forged.json()["field"] as? String == "X-CSRF-Token")
            let genuine = try await browser.request(
                .post, "/api/v1/projects",
                headers: [.contentType: "application/json", .init("X-CSRF-Token")!: right.csrf],
                body: ByteBuffer(string: #"{"name": "genuine"}"#))
            #expect(genuine.status == .created)
            // A sign-in form posted without its CSRF token is refused.
            let noCSRF = try await server.acting(as: [:]).request(
                .post, "/login", headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "username=admin&password=admin-password"))
            #expect(noCSRF.status == .forbidden)
            // The failed sign-in is in the audit log, without the password.
            let events = try await server.store.events.list(afterID: 0, projectIDs: nil, limit: 1000)
            #expect(events.contains { $0.action == "auth.sign_in_failed" && $0.detail["username"] == "admin" })
            #expect(events.contains { $0.action == "auth.signed_in" })
            let everything = events.map { "\($0)" }.joined()
            #expect(!everything.contains("not-the-password") && !everything.contains("admin-password"))
            #expect(!everything.contains(server.adminToken))
        }
    }

    @Test("a disabled user's sessions and tokens stop working at once", arguments: TestDatabase.enabled)
    func disabling(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup
            let user = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "mallory", password: "mallory-password", isAdmin: false)
            let token = try await TestAccounts.token(for: user, scopes: [.read, .write], in: server.store)
            let session = try await signIn(server, username: "mallory", password: "mallory-password")
            #expect(try await server.acting(as: TestServer.bearer(token)).get("/api/v1/me").status == .ok)
            #expect(
                try await server.acting(as: [.cookie: "iris_session=\(session.cookie)"]).get("/api/v1/me").status == .ok
            )
            // act
            let disabled = try await server.send(.patch, "/api/v1/users/\(user.id)", json: ["disabled": true])
            // check
            #expect(disabled.status == .ok)
            let byToken = try await server.acting(as: TestServer.bearer(token)).get("/api/v1/me")
            #expect(byToken.status == .unauthorized)
            #expect(try byToken.json()["detail"] as? String == "the token's user is disabled")
            #expect(
                try await server.acting(as: [.cookie: "iris_session=\(session.cookie)"]).get("/api/v1/me").status
                    == .unauthorized)
            // Signing in again with the right password is refused, saying why.
            let again = try await signIn(server, username: "mallory", password: "mallory-password")
            #expect(again.response.status == .forbidden)
            #expect(again.response.text.contains("This account is disabled"))
        }
    }

    @Test("tokens: shown once, scoped, revocable, never stronger than their maker", arguments: TestDatabase.enabled)
    func tokens(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let created = try await server.send(
                .post, "/api/v1/tokens",
                json: ["name": "phone", "scopes": ["read"], "project_id": project, "expires_in_days": 30])
            #expect(created.status == .created)
            let secret = try #require(try created.json()["token"] as? String)
            #expect(secret.hasPrefix("iris_") && secret.count == 48)
            let details = try #require(try created.json()["details"] as? [String: Any])
            let id = try #require(details["id"] as? Int)
            let phone = server.acting(as: TestServer.bearer(secret))
            #expect(try await phone.get("/api/v1/projects/\(project)").status == .ok)
            #expect(
                try await phone.send(.patch, "/api/v1/projects/\(project)", json: ["description": "x"]).status
                    == .forbidden)
            let listed = try await server.get("/api/v1/tokens").text
            #expect(!listed.contains(secret))
            // A read token cannot mint a write token.
            let escalation = try await phone.send(
                .post, "/api/v1/tokens", json: ["name": "more", "scopes": ["read", "write"]])
            #expect(escalation.status == .forbidden)
            // Revoked: refused at once.
            #expect(try await server.delete("/api/v1/tokens/\(id)").status == .noContent)
            let after = try await phone.get("/api/v1/projects/\(project)")
            #expect(after.status == .unauthorized)
            #expect(try after.json()["detail"] as? String == "the token was revoked")
            // Bad token requests name the field.
            let noName = try await server.send(.post, "/api/v1/tokens", json: ["scopes": ["read"]])
            #expect(try noName.status == .badRequest && noName.json()["field"] as? String == "name")
            let badScope = try await server.send(.post, "/api/v1/tokens", json: ["name": "x", "scopes": ["root"]])
            #expect(badScope.status == .badRequest)
            let longName = try await server.send(
                .post, "/api/v1/tokens", json: ["name": String(repeating: "n", count: 101)])
            #expect(try longName.status == .badRequest && longName.json()["field"] as? String == "name")
        }
    }

    @Test("malformed credentials are 401 problems, never 500", arguments: TestDatabase.enabled)
    func malformed(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let cases: [HTTPFields] = [
                [.authorization: "Basic YWRtaW46YWRtaW4="],
                [.authorization: "Bearer"],
                [.authorization: "Bearer iris_short"],
                [.authorization: "Bearer iris_" + String(repeating: "a", count: 43)],
                [.authorization: "Bearer " + String(repeating: "\u{1F600}", count: 20)],
                [.cookie: "iris_session=%%%garbage%%%"],
                [.cookie: "iris_session=" + String(repeating: "x", count: 5000)],
            ]
            for headers in cases {
                let response = try await server.acting(as: headers).get("/api/v1/projects")
                #expect(response.status == .unauthorized, "\(headers)")
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            // A stale (well-formed, unknown) session cookie just means signed out.
            let stale = try await server.acting(as: [.cookie: "iris_session=" + String(repeating: "a", count: 43)]).get(
                "/")
            #expect(stale.status == .seeOther)
            #expect(stale.headers[.location] == "/login?next=%2F")
        }
    }

    @Test("members: owners grant roles; the project list shows only a user's projects", arguments: TestDatabase.enabled)
    func members(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let alice = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "alice", password: "alice-password", isAdmin: false)
            let aliceToken = TestServer.bearer(
                try await TestAccounts.token(for: alice, scopes: [.read, .write], in: server.store))
            let mine = try await server.acting(as: aliceToken).createProject("alice's")
            let other = try await server.createProject("admin's")
            let listed = try await server.acting(as: aliceToken).get("/api/v1/projects").json()
            #expect((listed["items"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["alice's"])
            #expect(try await server.acting(as: aliceToken).get("/api/v1/projects/\(other)").status == .notFound)
            // The admin makes alice a contributor of the other project: she may upload, not delete.
            let granted = try await server.send(
                .put, "/api/v1/projects/\(other)/members/alice", json: ["role": "contributor"])
            #expect(granted.status == .ok)
            let upload = try await server.acting(as: aliceToken).upload(try Fixtures.jpeg(seed: 5), to: other)
            #expect(upload.status == .created)
            let sha256 = try #require(try upload.json()["sha256"] as? String)
            #expect(
                try await server.acting(as: aliceToken).delete("/api/v1/projects/\(other)/images/\(sha256)").status
                    == .forbidden)
            let members = try await server.get("/api/v1/projects/\(mine)/members").json()
            #expect((members["items"] as? [[String: Any]])?.first?["role"] as? String == "owner")
            let badRole = try await server.send(
                .put, "/api/v1/projects/\(other)/members/alice", json: ["role": "emperor"])
            #expect(badRole.status == .badRequest)
            // The history shows alice's upload to the project's readers.
            let events = try await server.acting(as: aliceToken).get("/api/v1/events").json()
            let actions = (events["items"] as? [[String: Any]])?.compactMap { $0["action"] as? String } ?? []
            #expect(actions.contains("image.uploaded") && actions.contains("project.created"))
        }
    }
}

@Suite("Rate limits")
struct RateLimitTests {
    @Test(
        "brute-force sign-in is slowed, then refused with 429 and Retry-After, even with the right password",
        arguments: TestDatabase.enabled)
    func signIn(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.signInLimit = 4 }) { server in
            let tests = AccountTests()
            var durations: [Duration] = []
            for _ in 0..<4 {
                let start = ContinuousClock.now
                let attempt = try await tests.signIn(server, username: "admin", password: "guess-guess-guess")
                durations.append(ContinuousClock.now - start)
                #expect(attempt.response.status == .unauthorized)
            }
            // The third and fourth failures (from half the limit on) wait at least 1 s and 2 s.
            // Only lower bounds: a loaded machine can make any request slow, never a sleep short.
            #expect(durations[2] >= .seconds(1) && durations[3] >= .seconds(2))
            let limited = try await tests.signIn(server, username: "admin", password: "admin-password")
            #expect(limited.response.status == .tooManyRequests)
            let retryAfter = Int(limited.response.headers[.retryAfter] ?? "") ?? 0
            #expect(retryAfter > 0 && retryAfter <= 900)
            #expect(limited.response.headers[.contentType] == "application/problem+json")
        }
    }

    @Test(
        "uploads past the per-caller rate get 429 with Retry-After and store nothing", arguments: TestDatabase.enabled)
    func uploads(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.uploadRateLimit = 2 }) { server in
            let project = try await server.createProject("p")
            #expect(try await server.upload(try Fixtures.jpeg(seed: 1), to: project).status == .created)
            #expect(try await server.upload(try Fixtures.jpeg(seed: 2), to: project).status == .created)
            let third = try await server.upload(try Fixtures.jpeg(seed: 3), to: project)
            #expect(third.status == .tooManyRequests)
            #expect(third.headers[.retryAfter] != nil)
            #expect(try await server.rowCount("images") == 2)
        }
    }
}

@Suite("Account input")
struct AccountInputTests {
    @Test("bad user creation is 400 naming the field; a taken name 409", arguments: TestDatabase.enabled)
    func users(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let cases: [([String: Any], String)] = [
                (["password": "long-enough-1"], "username"),
                (["username": "dave"], "password"),
                (["username": "dave", "password": "short"], "password"),
                (["username": "dave", "password": String(repeating: "p", count: 73)], "password"),
                (["username": "dave smith", "password": "long-enough-1"], "username"),
                (["username": String(repeating: "d", count: 65), "password": "long-enough-1"], "username"),
                (["username": "dave", "password": "long-enough-1", "is_admin": "yes"], "is_admin"),
            ]
            for (body, field) in cases {
                let response = try await server.send(.post, "/api/v1/users", json: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(try response.json()["field"] as? String == field, "\(body) → \(response.text)")
            }
            #expect(
                try await server.send(.post, "/api/v1/users", json: ["username": "dave", "password": "long-enough-1"])
                    .status == .created)
            #expect(
                try await server.send(.post, "/api/v1/users", json: ["username": "dave", "password": "long-enough-1"])
                    .status == .conflict)
            #expect(try await server.rowCount("users") == 2)
        }
    }

    @Test("behind a TLS proxy the session cookie is Secure")
    func secureCookie() async throws {
        try await TestServer.with(.sqlite) { server in
            let anonymous = server.acting(as: [:])
            let page = try await anonymous.get("/login", headers: [.init("X-Forwarded-Proto")!: "https"])
            #expect(page.headers[.setCookie]?.contains("Secure") == true)
            let plain = try await anonymous.get("/login")
            #expect(plain.headers[.setCookie]?.contains("Secure") == false)
        }
    }
}
