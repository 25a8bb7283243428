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

/// Signing in through the form as a browser would: where it sends you afterwards, who is
/// slowed or refused after failures, and what a disabled user is told.
@Suite("Signing in")
struct SignInTests {
    /// Posts the sign-in form (fetching its CSRF pair first), with `headers` on both requests.
    static func signIn(
        _ server: TestServer, username: String, password: String, next: String = "%2F", headers: HTTPFields = [:]
    ) async throws -> TestResponse {
        let anonymous = server.acting(as: [:])
        let page = try await anonymous.get("/login", headers: headers)
        let formCSRF = try #require(page.text.firstMatch(of: /name="csrf_token" value="([^"]+)"/)?.1)
        let loginCookie = try #require(page.headers[.setCookie]?.firstMatch(of: /iris_login_csrf=([^;]+)/)?.1)
        var all = headers
        all[.contentType] = "application/x-www-form-urlencoded"
        all[.cookie] = "iris_login_csrf=\(loginCookie)"
        return try await anonymous.request(
            .post, "/login", headers: all,
            body: ByteBuffer(string: "username=\(username)&password=\(password)&csrf_token=\(formCSRF)&next=\(next)"))
    }

    @Test(
        "after signing in, only a same-origin path is followed: TAB, CR, LF, backslash, // and schemes go to /",
        arguments: TestDatabase.enabled)
    func redirect(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // Form-encoded `next` values (as the sign-in page's hidden field sends them), and where they lead.
            let cases: [(String, String)] = [
                ("%2F%09%2Fevil.example", "/"),  // "/\t/evil.example": browsers drop the TAB → //evil.example
                ("%2F%0A%2Fevil.example", "/"),
                ("%2F%0D%2Fevil.example", "/"),
                ("%2F%7F%2Fevil.example", "/"),
                ("%2F%2509%2Fevil.example", "/"),  // a TAB once more percent-encoded
                ("%2F%2F%2Fevil.example", "/"),
                ("%2F%5Cevil.example", "/"),
                ("%2F%255Cevil.example", "/"),
                ("%2F%252F%2Fevil.example", "/"),  // "/%2F/evil.example" decodes to "//evil.example"
                ("https%3A%2F%2Fevil.example", "/"),
                ("evil.example", "/"),
                ("%2Fprojects%2F3%3Flabel%3Drobin", "/projects/3?label=robin"),
                ("%2Fsearch%3Fq%3Dtabby%2Bcat", "/search?q=tabby+cat"),
            ]
            for (next, expected) in cases {
                // act
                let response = try await Self.signIn(server, username: "admin", password: "admin-password", next: next)
                // check
                #expect(response.status == .seeOther, "\(next)")
                #expect(response.headers[.location] == expected, "next=\(next)")
            }
            // The sign-in page does not carry a hostile `next` into its form either.
            let page = try await server.acting(as: [:]).get("/login?next=/%09/evil.example")
            #expect(page.text.contains(#"name="next" value="/""#), "\(page.text)")
        }
    }

    static func from(_ address: String) -> HTTPFields { [.init("X-Forwarded-For")!: address] }

    @Test(
        "failed sign-ins refuse only that client for that username; a client that did not fail still signs in",
        arguments: TestDatabase.enabled)
    func lockOut(database: TestDatabase) async throws {
        let loopback = ["127.0.0.1", "::1"].compactMap(IPNetwork.init)
        try await TestServer.with(
            database,
            configure: {
                $0.signInLimit = 4
                $0.trustedProxies = loopback
            }
        ) { server in
            // setup: someone behind the proxy guesses at admin's password up to the limit
            for _ in 0..<4 {
                let guess = try await Self.signIn(
                    server, username: "admin", password: "guess-guess", headers: Self.from("203.0.113.7"))
                #expect(guess.status == .unauthorized)
            }
            // act
            let guesser = try await Self.signIn(
                server, username: "admin", password: "admin-password", headers: Self.from("203.0.113.7"))
            let start = ContinuousClock.now
            let realAdmin = try await Self.signIn(
                server, username: "admin", password: "admin-password", headers: Self.from("198.51.100.2, 127.0.0.1"))
            let waited = ContinuousClock.now - start
            // check: the guesser is refused even with the right password; the admin elsewhere signs in, slowed
            #expect(guesser.status == .tooManyRequests)
            #expect(guesser.headers[.retryAfter] != nil)
            #expect(realAdmin.status == .seeOther, "\(realAdmin.text.prefix(300))")
            #expect(realAdmin.headers[.setCookie]?.contains("iris_session=") == true)
            #expect(waited >= .seconds(1))
        }
    }

    @Test(
        "X-Forwarded-For names the client only when the peer is a trusted proxy",
        arguments: TestDatabase.enabled.flatMap { database in [(database, ""), (database, "10.9.9.9")] })
    func forwardedForFromStrangers(database: TestDatabase, trusted: String) async throws {
        let networks = trusted.isEmpty ? [] : [try #require(IPNetwork(trusted))]
        try await TestServer.with(
            database,
            configure: {
                $0.signInLimit = 4
                $0.trustedProxies = networks
            }
        ) {
            server in
            // setup: the peer (this test, on loopback) is no trusted proxy, so the header is its own invention
            for _ in 0..<4 {
                _ = try await Self.signIn(
                    server, username: "admin", password: "guess-guess", headers: Self.from("203.0.113.7"))
            }
            // act: claiming to be another client changes nothing
            let claimed = try await Self.signIn(
                server, username: "admin", password: "admin-password", headers: Self.from("198.51.100.2"))
            // check
            #expect(claimed.status == .tooManyRequests)
        }
    }

    @Test(
        "a disabled user with the right password is told the account is disabled; a wrong password says only that",
        arguments: TestDatabase.enabled)
    func disabledAccount(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup
            let mallory = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "mallory", password: "mallory-password", isAdmin: false)
            try await server.store.accounts.setDisabled(userID: mallory.id, true)
            // act
            let right = try await Self.signIn(server, username: "mallory", password: "mallory-password")
            let wrong = try await Self.signIn(server, username: "mallory", password: "not-her-password")
            // check
            #expect(right.status == .forbidden)
            #expect(right.text.contains("This account is disabled"), "\(right.text)")
            #expect(right.headers[.setCookie]?.contains("iris_session=") != true)
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("Wrong username or password") && !wrong.text.contains("account is disabled"))
        }
    }
}
