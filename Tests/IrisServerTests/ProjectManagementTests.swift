import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisServices
import IrisStore
import IrisTesting
import Testing

/// What an owner does from the project page through the API: rename a label (its photos
/// follow, undoably), filter the gallery by contributor link, and change their own password.
@Suite("Managing a project and an account")
struct ProjectManagementTests {
    @Test(
        "renaming a label relabels its photos in one undoable change and renames it in the label set",
        arguments: TestDatabase.enabled)
    func renameLabel(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: three robins and a wren
            let project = try await server.createProject("hedge", labelSet: ["robin", "wren"])
            var robins: [String] = []
            for seed in 0..<4 {
                let label = seed < 3 ? "robin" : "wren"
                let sha256 = try #require(
                    try await server.upload(
                        try Fixtures.jpeg(width: 40, height: 30, seed: 600 + seed), to: project, labels: [label]
                    ).json()["sha256"] as? String)
                if label == "robin" { robins.append(sha256) }
            }

            // act
            let renamed = try await server.send(
                .post, "/api/v1/projects/\(project)/labels/rename", json: ["from": "robin", "to": "redbreast"])

            // check: the photos and the set follow; the change is one operation, undoable
            #expect(renamed.status == .ok, "\(renamed.text)")
            let body = try renamed.json()
            #expect(body["changed"] as? Int == 3)
            #expect(body["label_set"] as? [String] == ["redbreast", "wren"])
            #expect(try await server.store.labels.counts(projectID: project) == ["redbreast": 3, "wren": 1])
            let events = try await LabelEditTests.labelEvents(server, project)
            #expect(events.count == 3)
            let operation = try #require(body["operation"] as? Int)
            let undone = try await server.send(
                .post, "/api/v1/projects/\(project)/labels/undo", json: ["operation": operation])
            #expect(undone.status == .ok, "\(undone.text)")
            #expect(try await server.store.labels.counts(projectID: project) == ["robin": 3, "wren": 1])

            // Refusals change nothing: a label outside the set, a bad name; the same name is a no-op.
            let same = try await server.send(
                .post, "/api/v1/projects/\(project)/labels/rename", json: ["from": "wren", "to": "wren"])
            #expect(same.status == .ok, "\(same.text)")
            #expect(try same.json()["changed"] as? Int == 0)
            for (json, field) in [(["from": "sparrow", "to": "finch"], "from"), (["from": "wren", "to": ""], "to")] {
                let refused = try await server.send(.post, "/api/v1/projects/\(project)/labels/rename", json: json)
                #expect(refused.status == .badRequest, "\(json) → \(refused.text)")
                #expect(try refused.json()["field"] as? String == field, "\(json) → \(refused.text)")
            }
            #expect(try await server.store.projects.require(id: project).labelSet == ["redbreast", "wren"])
            #expect(try await server.store.labels.counts(projectID: project) == ["robin": 3, "wren": 1])
        }
    }

    @Test("the gallery filters by the contributor link a photo came through, for editors only")
    func linkFilter() async throws {
        try await TestServer.with(.sqlite) { server in
            let project = try await server.createProject("crowd")
            let code = try #require(
                try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "walkers"]).json()[
                    "code"] as? String)
            let linkID = try #require(try await server.store.links.list(projectID: project).first?.id)
            let viaLink = try await ReviewTests.linkUpload(server, code: code, seed: 640, label: "any")
            _ = try await server.upload(try Fixtures.jpeg(width: 40, height: 30, seed: 641), to: project)
            let listed = try await server.get("/api/v1/projects/\(project)/images?link=\(linkID)")
            #expect(listed.status == .ok, "\(listed.text)")
            let items = try #require(try listed.json()["items"] as? [[String: Any]])
            #expect(items.compactMap { $0["sha256"] as? String } == [viaLink])
            let bad = try await server.get("/api/v1/projects/\(project)/images?link=walkers")
            #expect(bad.status == .badRequest)
            // A viewer learns nothing of links: the filter matches no photo.
            let viewer = try await ReviewTests.viewerToken(server, project: project, name: "vera")
            let seen = try await server.acting(as: TestServer.bearer(viewer)).get(
                "/api/v1/projects/\(project)/images?link=\(linkID)")
            #expect(try #require(try seen.json()["items"] as? [[String: Any]]).isEmpty)
        }
    }

    @Test("a user changes their own password with the current one; a wrong one is a 403 and changes nothing")
    func changePassword() async throws {
        try await TestServer.with(.sqlite) { server in
            let accounts = Accounts(store: server.store, bcryptCost: 10)
            let alice = try await accounts.create(username: "alice", password: "alice-password", isAdmin: false)
            let token = try await TestAccounts.token(for: alice, scopes: [.read, .write], in: server.store)
            let client = server.acting(as: TestServer.bearer(token))
            let wrong = try await client.send(
                .post, "/api/v1/me/password", json: ["current_password": "guess-guess", "password": "new-password-1"])
            #expect(wrong.status == .forbidden, "\(wrong.text)")
            #expect(try wrong.json()["field"] as? String == "current_password")
            let short = try await client.send(
                .post, "/api/v1/me/password", json: ["current_password": "alice-password", "password": "short"])
            #expect(short.status == .badRequest)
            #expect(try short.json()["field"] as? String == "password")
            let hash = try #require(try await server.store.accounts.credentials(username: "alice")?.1)
            let changed = try await client.send(
                .post, "/api/v1/me/password",
                json: ["current_password": "alice-password", "password": "new-password-1"])
            #expect(changed.status == .noContent, "\(changed.text)")
            #expect(try await server.store.accounts.credentials(username: "alice")?.1 != hash)
            let event = try await server.store.events.latest(projectIDs: nil, limit: 1).first
            #expect(event?.action == EventAction.userPasswordChanged.rawValue && event?.subject == "alice")
        }
    }
}
