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

/// A token made with a token stays within it, dies with it, and an administrator's powers
/// need the admin scope.
@Suite("Token limits")
struct TokenLimitTests {
    @Test(
        "a token cannot make one beyond its scopes, project or expiry, and revoking it revokes what it made",
        arguments: TestDatabase.enabled)
    func children(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: alice's token for her project, expiring in two days
            let alice = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "alice", password: "alice-password", isAdmin: false)
            let project = try await server.createProject("alice's")
            let other = try await server.createProject("another")
            try await server.store.accounts.setRole(projectID: project, userID: alice.id, .owner)
            try await server.store.accounts.setRole(projectID: other, userID: alice.id, .owner)
            let expiry = Date().addingTimeInterval(2 * 86_400)
            let parent = server.acting(
                as: TestServer.bearer(
                    try await TestAccounts.token(
                        for: alice, scopes: [.read, .write], projectID: project, expiresAt: expiry, in: server.store)))
            let parentID = try #require(try await server.store.accounts.tokens(userID: alice.id).last?.id)
            // act and check: each excess is refused, naming the field
            let refusals: [([String: Any], String)] = [
                (["name": "longer", "expires_in_days": 30], "expires_in_days"),
                (["name": "elsewhere", "project_id": other], "project_id"),
                (["name": "stronger", "scopes": ["read", "write", "admin"]], "scopes"),
            ]
            for (body, field) in refusals {
                let refused = try await parent.send(.post, "/api/v1/tokens", json: body)
                #expect(refused.status == .forbidden, "\(body) → \(refused.status) \(refused.text)")
                #expect(try refused.json()["field"] as? String == field, "\(body) → \(refused.text)")
            }
            // What the request leaves out it takes from its maker.
            let child = try await parent.send(
                .post, "/api/v1/tokens", json: ["name": "child", "scopes": ["read", "write"]])
            #expect(child.status == .created, "\(child.text)")
            let details = try #require(try child.json()["details"] as? [String: Any])
            #expect(details["project_id"] as? Int == Int(project))
            #expect(details["parent_id"] as? Int == Int(parentID))
            let childExpiry = try #require(
                (details["expires_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(childExpiry.timeIntervalSince(expiry)) < 1)
            let childClient = server.acting(
                as: TestServer.bearer(try #require(try child.json()["token"] as? String)))
            let grandchild = try await childClient.send(
                .post, "/api/v1/tokens", json: ["name": "grandchild", "expires_in_days": 1])
            #expect(grandchild.status == .created, "\(grandchild.text)")
            let grandchildClient = server.acting(
                as: TestServer.bearer(try #require(try grandchild.json()["token"] as? String)))
            #expect(try await grandchildClient.get("/api/v1/projects/\(project)").status == .ok)
            // A project's token sees and revokes only tokens of that project, not alice's wider ones.
            let wide = try await TestAccounts.token(for: alice, scopes: [.read], in: server.store)
            let wideID = try #require(try await server.store.accounts.tokens(userID: alice.id).last?.id)
            let listed = try #require(try await childClient.get("/api/v1/tokens").json()["items"] as? [[String: Any]])
            #expect(!listed.contains { $0["id"] as? Int == Int(wideID) } && !listed.isEmpty, "\(listed)")
            #expect(try await childClient.delete("/api/v1/tokens/\(wideID)").status == .notFound)
            #expect(try await server.acting(as: TestServer.bearer(wide)).get("/api/v1/me").status == .ok)
            // Revoking the parent revokes its child and grandchild at once.
            #expect(try await parent.delete("/api/v1/tokens/\(parentID)").status == .noContent)
            for client in [childClient, grandchildClient] {
                let after = try await client.get("/api/v1/projects/\(project)")
                #expect(after.status == .unauthorized)
                #expect(try after.json()["detail"] as? String == "the token was revoked")
            }
            #expect(
                try await server.store.accounts.tokens(userID: alice.id).filter { $0.id != wideID }.allSatisfy {
                    $0.revokedAt != nil
                })
        }
    }

    @Test(
        "an administrator's powers need the admin scope and no project limit; their sessions keep them",
        arguments: TestDatabase.enabled)
    func administratorTokens(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: alice's project (the admin is no member) and her token; the admin's lesser tokens
            let alice = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "alice", password: "alice-password", isAdmin: false)
            let aliceClient = server.acting(
                as: TestServer.bearer(
                    try await TestAccounts.token(for: alice, scopes: [.read, .write], in: server.store)))
            let project = try await aliceClient.createProject("alice's")
            let aliceTokenID = try #require(try await server.store.accounts.tokens(userID: alice.id).last?.id)
            let (admin, _) = try #require(try await server.store.accounts.credentials(username: "admin"))
            let plain = server.acting(
                as: TestServer.bearer(
                    try await TestAccounts.token(for: admin, scopes: [.read, .write], in: server.store)))
            let limited = server.acting(
                as: TestServer.bearer(
                    try await TestAccounts.token(
                        for: admin, scopes: [.read, .write, .admin], projectID: project, in: server.store)))
            // act and check: the plain token is the admin as a member of nothing
            #expect(try await plain.get("/api/v1/projects/\(project)").status == .notFound)
            let listed = try await plain.get("/api/v1/projects").json()["items"] as? [[String: Any]]
            #expect(listed?.isEmpty == true)
            #expect(
                try await plain.send(.patch, "/api/v1/projects/\(project)", json: ["description": "mine"]).status
                    == .notFound)
            #expect(try await plain.get("/api/v1/users").status == .forbidden)
            let everyone = try await plain.get("/api/v1/tokens?all=true")
            #expect(everyone.status == .forbidden)
            #expect(
                try everyone.json()["detail"] as? String == "to list everyone's tokens, a token needs the admin scope")
            #expect(try await plain.delete("/api/v1/tokens/\(aliceTokenID)").status == .notFound)
            // The admin-scoped token limited to alice's project reaches it, but not the instance.
            #expect(try await limited.get("/api/v1/projects/\(project)").status == .ok)
            #expect(try await limited.get("/api/v1/tokens?all=true").status == .forbidden)
            #expect(try await limited.delete("/api/v1/tokens/\(aliceTokenID)").status == .notFound)
            #expect(try await aliceClient.get("/api/v1/me").status == .ok)
            // The full admin token and the admin's session administer.
            let all = try await server.get("/api/v1/tokens?all=true").json()["items"] as? [[String: Any]]
            #expect(all?.contains { $0["user_id"] as? Int == Int(alice.id) } == true)
            let session = try await SignInTests.signIn(server, username: "admin", password: "admin-password")
            let cookie = try #require(session.headers[.setCookie]?.firstMatch(of: /iris_session=([^;]+)/)?.1)
            #expect(
                try await server.acting(as: [.cookie: "iris_session=\(cookie)"]).get("/api/v1/projects/\(project)")
                    .status == .ok)
            #expect(try await server.delete("/api/v1/tokens/\(aliceTokenID)").status == .noContent)
            #expect(try await aliceClient.get("/api/v1/me").status == .unauthorized)
        }
    }
}
