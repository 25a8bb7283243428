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

/// Nobody can leave a project without an owner or the instance without an administrator,
/// and the pages ask before anything destructive.
@Suite("Locking yourself out")
struct LockOutTests {
    @Test(
        "the last owner of a project cannot be removed or demoted (409 naming why); with another owner they can",
        arguments: TestDatabase.enabled)
    func lastOwner(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: the admin made the project, so is its only owner
            let project = try await server.createProject("p")
            _ = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "alice", password: "alice-password", isAdmin: false)
            let members = "/api/v1/projects/\(project)/members"
            // act
            let removed = try await server.delete("\(members)/admin")
            let demoted = try await server.send(.put, "\(members)/admin", json: ["role": "editor"])
            // check
            #expect(removed.status == .conflict)
            #expect(try removed.json()["field"] as? String == "username")
            #expect((try removed.json()["detail"] as? String)?.contains("last owner") == true, "\(removed.text)")
            #expect(demoted.status == .conflict)
            #expect(try demoted.json()["field"] as? String == "role")
            let (admin, _) = try #require(try await server.store.accounts.credentials(username: "admin"))
            #expect(try await server.store.accounts.role(projectID: project, userID: admin.id) == .owner)
            // With a second owner, the first may step down; then the second is the last.
            #expect(try await server.send(.put, "\(members)/alice", json: ["role": "owner"]).status == .ok)
            #expect(try await server.send(.put, "\(members)/admin", json: ["role": "viewer"]).status == .ok)
            #expect(try await server.delete("\(members)/alice").status == .conflict)
            #expect(try await server.send(.put, "\(members)/alice", json: ["role": "viewer"]).status == .conflict)
            let left = try await server.get(members).json()["items"] as? [[String: Any]]
            #expect(left?.contains { $0["username"] as? String == "alice" && $0["role"] as? String == "owner" } == true)
        }
    }

    @Test(
        "the last active administrator cannot be disabled or demoted (409 naming why); another can",
        arguments: TestDatabase.enabled)
    func lastAdministrator(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup
            let (admin, _) = try #require(try await server.store.accounts.credentials(username: "admin"))
            // act
            let disabled = try await server.send(.patch, "/api/v1/users/\(admin.id)", json: ["disabled": true])
            let demoted = try await server.send(.patch, "/api/v1/users/\(admin.id)", json: ["is_admin": false])
            // check
            #expect(disabled.status == .conflict)
            #expect(try disabled.json()["field"] as? String == "disabled")
            #expect((try disabled.json()["detail"] as? String)?.contains("last active administrator") == true)
            #expect(demoted.status == .conflict)
            #expect(try demoted.json()["field"] as? String == "is_admin")
            let now = try #require(try await server.store.accounts.user(id: admin.id))
            #expect(now.isAdmin && !now.disabled)
            #expect(try await server.get("/api/v1/users").status == .ok)
            // A second administrator can be disabled, demoted and made one again; once disabled,
            // the first is the last again.
            let bob = try await server.send(
                .post, "/api/v1/users", json: ["username": "bob", "password": "bob-password", "is_admin": true])
            let bobID = try #require(try bob.json()["id"] as? Int)
            #expect(try await server.send(.patch, "/api/v1/users/\(bobID)", json: ["is_admin": false]).status == .ok)
            #expect(try await server.store.accounts.user(id: Int64(bobID))?.isAdmin == false)
            #expect(try await server.send(.patch, "/api/v1/users/\(bobID)", json: ["is_admin": true]).status == .ok)
            #expect(try await server.send(.patch, "/api/v1/users/\(bobID)", json: ["disabled": true]).status == .ok)
            #expect(
                try await server.send(.patch, "/api/v1/users/\(admin.id)", json: ["disabled": true]).status == .conflict
            )
        }
    }

    @Test("every destructive button on the pages asks for confirmation first")
    func confirmations() async throws {
        try await TestServer.with(.sqlite) { server in
            // setup: something to revoke, remove, disable or cancel on each page
            let project = try await server.createProject("p")
            _ = try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "crowd"])
            _ = try await server.send(.post, "/api/v1/users", json: ["username": "bob", "password": "bob-password"])
            _ = try await server.send(.put, "/api/v1/projects/\(project)/members/bob", json: ["role": "viewer"])
            _ = try await server.store.jobs.enqueue(
                JobRequest(kind: "project.export", payload: "{}", queue: "unserved", projectID: project))
            let session = try await SignInTests.signIn(server, username: "admin", password: "admin-password")
            let cookie = try #require(session.headers[.setCookie]?.firstMatch(of: /iris_session=([^;]+)/)?.1)
            let browser = server.acting(as: [.cookie: "iris_session=\(cookie)"])
            var destructive = 0
            for page in ["/admin", "/account/tokens", "/projects/\(project)/members", "/projects/\(project)", "/jobs"] {
                // act
                let html = try await browser.get(page).text
                // check: a button that deletes, disables or cancels carries the question it asks
                // (The jobs page's buttons are data-action: its module calls the API and redraws the rows.)
                for match in html.matches(
                    of:
                        /<button (?:type="button" )?data-(?:api|action)="(DELETE [^"]*|POST [^"]*\/cancel|PATCH [^"]*)"[^>]*>/
                ) {
                    let tag = String(match.0)
                    if tag.contains("PATCH"), !tag.contains(#""disabled": true"#) { continue }
                    destructive += 1
                    #expect(tag.contains("data-confirm=\""), "\(page): \(tag)")
                }
            }
            #expect(destructive >= 6)
            // The scripts ask before calling the API, and before the buttons they draw themselves:
            // the shared module for data-confirm, the duplicates, repair, image and jobs pages' modules.
            let common = try await browser.get("/static/common.js").text
            #expect(common.contains("if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;"))
            let duplicates = try await browser.get("/static/duplicates.js").text
            #expect(duplicates.contains(#"confirm("Keep this photo and take the other copies out of the project?")"#))
            let repair = try await browser.get("/static/repair-editor.js").text
            #expect(repair.contains(#"confirm("Discard this repair? Its result leaves the project.")"#))
            let image = try await browser.get("/static/image.js").text
            #expect(image.contains(#"if (!confirm("Remove this photo from " + removePhoto.dataset.name"#))
            let jobs = try await browser.get("/static/jobs.js").text
            #expect(jobs.contains("if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;"))
        }
    }
}
