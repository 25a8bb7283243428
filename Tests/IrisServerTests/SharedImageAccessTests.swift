import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisServer
import IrisServices
import IrisStore
import IrisTesting
import NIOCore
import SQLKit
import Testing

/// The same bytes in two projects are one image row; what a caller of one project sees of
/// that image must say nothing of the other. And a flagged image hidden from a project's
/// viewers is hidden everywhere, not just in listings.
@Suite("What a shared or flagged image reveals")
struct SharedImageAccessTests {
    struct Setting {
        var projectA: Int64
        var projectB: Int64
        var shared: String
        var onlyInB: String
        /// A viewer of A, and the administrator's token limited to A.
        var callers: [(String, TestServer)]
    }

    /// B is made first and gets the shared photo first, so its jobs name B.
    func setting(_ server: TestServer) async throws -> Setting {
        let projectB = try await server.createProject("bravo-secret-project")
        let projectA = try await server.createProject("alpha")
        let photo = try Fixtures.jpeg(width: 320, height: 240, seed: 31)
        let shared = try #require(
            try await server.upload(photo, to: projectB, labels: ["bravo-secret-label"]).json()["sha256"] as? String)
        #expect(try await server.upload(photo, to: projectA, labels: ["alpha-label"]).status == .created)
        let onlyInB = try #require(
            try await server.upload(try Fixtures.jpeg(seed: 32), to: projectB).json()["sha256"] as? String)
        let viewer = try await Accounts(store: server.store, bcryptCost: 10).create(
            username: "vera", password: "vera-password", isAdmin: false)
        try await server.store.accounts.setRole(projectID: projectA, userID: viewer.id, .viewer)
        let viewerToken = try await TestAccounts.token(for: viewer, scopes: [.read], in: server.store)
        let admin = try #require(try await server.store.accounts.credentials(username: "admin")?.0)
        let limitedToken = try await TestAccounts.token(
            for: admin, scopes: [.read, .write, .admin], projectID: projectA, in: server.store)
        return Setting(
            projectA: projectA, projectB: projectB, shared: shared, onlyInB: onlyInB,
            callers: [
                ("viewer of A", server.acting(as: TestServer.bearer(viewerToken))),
                ("admin token limited to A", server.acting(as: TestServer.bearer(limitedToken))),
            ])
    }

    @Test(
        "a viewer of A and a token limited to A see nothing of B through an image both hold",
        arguments: TestDatabase.enabled)
    func sharedImage(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.models.autoModels = ["mobilenet-v2"] }) { server in
            let setting = try await setting(server)
            try await server.settle(timeout: 60)
            let secrets = ["bravo-secret"]
            for (who, caller) in setting.callers {
                var bodies: [String: String] = [:]
                for path in [
                    "/api/v1/images/\(setting.shared)", "/api/v1/projects/\(setting.projectA)/images",
                    "/api/v1/analyses/\(setting.shared)",
                    "/api/v1/events", "/api/v1/jobs", "/images/\(setting.shared)",
                ] {
                    let response = try await caller.get(path)
                    #expect(response.status == .ok, "\(who): GET \(path) → \(response.status)")
                    bodies[path] = response.text
                }
                for (path, body) in bodies {
                    for secret in secrets { #expect(!body.contains(secret), "\(who): GET \(path) reveals \(secret)") }
                }
                // Jobs and events of B are not listed.
                for path in ["/api/v1/jobs", "/api/v1/events"] {
                    let items = try #require(try await caller.get(path).json()["items"] as? [[String: Any]])
                    #expect(!items.contains { $0["project_id"] as? Int == Int(setting.projectB) }, "\(who): \(path)")
                }
                // The image names only A.
                let projects = try #require(
                    try await caller.get("/api/v1/images/\(setting.shared)").json()["projects"] as? [[String: Any]])
                #expect(projects.map { $0["project_id"] as? Int } == [Int(setting.projectA)], "\(who): \(projects)")
                #expect(projects.first?["labels"].map { "\($0)" }?.contains("alpha-label") == true)
                // B's analysis job is not named: its id would lead into B.
                let models = try #require(
                    try await caller.get("/api/v1/analyses/\(setting.shared)").json()["models"]
                        as? [String: [String: Any]])
                #expect(models["mobilenet-v2"]?["job_id"] == nil, "\(who): \(models)")
                #expect(models["mobilenet-v2"]?["result"] != nil)
                // What only B holds does not exist for them.
                for path in ["", "/original", "/thumbnail"] {
                    #expect(
                        try await caller.get("/api/v1/images/\(setting.onlyInB)\(path)").status == .notFound,
                        "\(who): \(path)")
                }
                #expect(try await caller.get("/api/v1/analyses/\(setting.onlyInB)").status == .notFound)
            }
            // The unrestricted administrator sees both projects.
            let all = try #require(
                try await server.get("/api/v1/images/\(setting.shared)").json()["projects"] as? [[String: Any]])
            #expect(Set(all.compactMap { $0["project_id"] as? Int }) == [Int(setting.projectA), Int(setting.projectB)])
        }
    }

    @Test(
        "a repair made in B reveals nothing to A: not its record, mask or history, nor \"repaired from\" on its result",
        arguments: TestDatabase.enabled)
    func repairInB(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: the shared photo repaired in B; its result's bytes then uploaded to A as well
            let setting = try await setting(server)
            let mask = try RepairAPITests.ellipseMask(width: 320, height: 240)
            let accepted = try await RepairAPITests.send(
                server, setting.shared, mask: mask, fields: ["project_id": "\(setting.projectB)"])
            #expect(accepted.status == .accepted, "\(accepted.text)")
            let id = try #require(try accepted.json()["id"] as? Int)
            let job = try #require(try accepted.json()["job_id"] as? Int)
            let finished = try await server.waitForJob(Int64(job), in: [.succeeded, .failed, .dead], timeout: 120)
            #expect(finished.state == .succeeded, "\(finished.error ?? "")")
            let result = try #require(try await server.get("/api/v1/repairs/\(id)").json()["result_sha256"] as? String)
            let bytes = try await server.get("/api/v1/images/\(result)/original").data
            #expect(try await server.upload(bytes, to: setting.projectA).status == .created)
            // The unrestricted administrator sees where it came from.
            #expect(try await server.get("/images/\(result)").text.contains("Repaired from"))

            for (who, caller) in setting.callers {
                let page = try await caller.get("/images/\(result)")
                #expect(page.status == .ok, "\(who)")
                #expect(!page.text.contains("Repaired from") && !page.text.contains("bravo-secret"), "\(who)")
                for path in [
                    "/api/v1/repairs/\(id)", "/api/v1/repairs/\(id)/mask",
                    "/api/v1/projects/\(setting.projectB)/repairs",
                ] {
                    let status = try await caller.get(path).status
                    #expect(status == .notFound || status == .forbidden, "\(who): GET \(path) → \(status)")
                }
                let discard = try await caller.request(.post, "/api/v1/repairs/\(id)/discard")
                #expect(
                    discard.status == .notFound || discard.status == .forbidden, "\(who): discard → \(discard.status)")
                let events = try #require(try await caller.get("/api/v1/events").json()["items"] as? [[String: Any]])
                #expect(!events.contains { ($0["action"] as? String)?.hasPrefix("repair.") == true }, "\(who)")
            }
            #expect(try await server.get("/api/v1/repairs/\(id)").json()["discarded"] as? Bool == false)
        }
    }

    @Test(
        "a flagged image hidden from viewers' listings is not readable by hash either; editors and administrators see it",
        arguments: TestDatabase.enabled)
    func flaggedHiddenEverywhere(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: one image in A, with a moderation score over A's threshold
            let project = try await server.createProject("moderated")
            let sha256 = try #require(
                try await server.upload(try Fixtures.jpeg(seed: 33), to: project).json()["sha256"] as? String)
            try await server.store.database.withConnection { db in
                try await db.raw("UPDATE images SET moderation = 0.95 WHERE sha256 = \(bind: sha256)").run()
            }
            let accounts = Accounts(store: server.store, bcryptCost: 10)
            var identities: [String: TestServer] = [:]
            for (name, role) in [("vic", Role.viewer), ("cora", .contributor), ("eddie", .editor)] {
                let user = try await accounts.create(username: name, password: "\(name)-password", isAdmin: false)
                try await server.store.accounts.setRole(projectID: project, userID: user.id, role)
                identities[name] = server.acting(
                    as: TestServer.bearer(try await TestAccounts.token(for: user, scopes: [.read], in: server.store)))
            }
            let paths = [
                "/api/v1/images/\(sha256)", "/api/v1/images/\(sha256)/original", "/api/v1/images/\(sha256)/thumbnail",
                "/api/v1/analyses/\(sha256)",
            ]
            // check: hidden from viewers and contributors, by listing and by hash
            for name in ["vic", "cora"] {
                let listed =
                    try await identities[name]!.get("/api/v1/projects/\(project)/images").json()["items"]
                    as? [[String: Any]]
                #expect(listed?.isEmpty == true, "\(name)")
                for path in paths {
                    #expect(try await identities[name]!.get(path).status == .notFound, "\(name): \(path)")
                }
            }
            for caller in [identities["eddie"]!, server] {
                for path in paths { #expect(try await caller.get(path).status == .ok, "\(path)") }
            }
            // Under the threshold it is an ordinary image again, for everyone.
            _ = try await server.send(.patch, "/api/v1/projects/\(project)", json: ["moderation_threshold": 0.99])
            for path in paths {
                #expect(try await identities["vic"]!.get(path).status == .ok, "under the threshold: \(path)")
            }
        }
    }
}
