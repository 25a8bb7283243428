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

@Suite("Contributor upload links")
struct UploadLinkTests {
    @Test(
        "anyone with the link uploads into its project with its labels, and nothing else",
        arguments: TestDatabase.enabled)
    func linkUploads(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: an owner makes a link offering two labels, capped at 2 uploads
            let project = try await server.createProject("Street trees")
            let created = try await server.send(
                .post, "/api/v1/projects/\(project)/links",
                json: ["name": "volunteers", "label_choices": ["oak", "plane"], "max_uploads": 2])
            #expect(created.status == .created)
            let code = try #require(try created.json()["code"] as? String)
            #expect(try created.json()["url"] as? String == "/l/\(code)")
            let stranger = server.acting(as: [:])
            // check: the phone page
            let page = try await stranger.get("/l/\(code)")
            #expect(page.status == .ok)
            #expect(
                page.text.contains("capture=\"environment\"") && page.text.contains("accept=\"image/*\"")
                    && page.text.contains(">oak<"))
            #expect(try await stranger.get("/api/v1/links/\(code)").json()["uploads_left"] as? Int == 2)
            // act: upload through the link
            var form = MultipartForm()
            form.addFile("file", fileName: "tree.jpg", data: try Fixtures.jpeg(seed: 11))
            form.addField("label", "oak")
            let first = try await stranger.post(
                "/api/v1/links/\(code)/images", body: form.body, contentType: form.contentType)
            #expect(first.status == .created, "\(first.text)")
            // A label the link does not offer is refused and uses nothing up.
            var wrong = MultipartForm()
            wrong.addFile("file", fileName: "x.jpg", data: try Fixtures.jpeg(seed: 12))
            wrong.addField("label", "palm")
            let refused = try await stranger.post(
                "/api/v1/links/\(code)/images", body: wrong.body, contentType: wrong.contentType)
            #expect(try refused.status == .badRequest && refused.json()["field"] as? String == "label")
            var second = MultipartForm()
            second.addFile("file", fileName: "y.jpg", data: try Fixtures.jpeg(seed: 13))
            #expect(
                try await stranger.post(
                    "/api/v1/links/\(code)/images", body: second.body, contentType: second.contentType
                ).status == .created)
            // The cap: the third upload is refused, naming why.
            var third = MultipartForm()
            third.addFile("file", fileName: "z.jpg", data: try Fixtures.jpeg(seed: 14))
            let capped = try await stranger.post(
                "/api/v1/links/\(code)/images", body: third.body, contentType: third.contentType)
            #expect(capped.status == .forbidden)
            #expect(try capped.json()["detail"] as? String == "this upload link has taken its 2 uploads")
            // check: the owner sees the uploads, labelled, and the history names the link
            let gallery = try await server.get("/api/v1/projects/\(project)/images?label=oak").json()
            #expect((gallery["items"] as? [Any])?.count == 1)
            let events = try await server.get("/api/v1/events").json()["items"] as? [[String: Any]] ?? []
            #expect(
                events.contains {
                    $0["action"] as? String == "image.uploaded" && $0["actor"] as? String == "link volunteers"
                })
            // The link reaches nothing else.
            #expect(try await stranger.get("/api/v1/projects/\(project)/images").status == .unauthorized)
        }
    }

    @Test("revoked and expired links are refused naming why; malformed codes are 401", arguments: TestDatabase.enabled)
    func refusals(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let created = try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "old"])
                .json()
            let code = try #require(created["code"] as? String)
            let id = try #require((created["link"] as? [String: Any])?["id"] as? Int)
            #expect(try await server.delete("/api/v1/projects/\(project)/links/\(id)").status == .noContent)
            let revoked = try await server.acting(as: [:]).get("/api/v1/links/\(code)")
            #expect(revoked.status == .forbidden)
            #expect(try revoked.json()["detail"] as? String == "this upload link was revoked")
            // An expired link, made directly with a past expiry.
            let expiredCode = String(repeating: "e", count: 43)
            _ = try await server.store.links.create(
                projectID: project, codeHash: SecretHashing.sha256Hex(expiredCode), name: "past", labelChoices: nil,
                expiresAt: Date().addingTimeInterval(-1), maxUploads: nil, createdBy: nil)
            let expired = try await server.acting(as: [:]).get("/l/\(expiredCode)")
            #expect(expired.status == .forbidden)
            #expect(try expired.json()["detail"] as? String == "this upload link expired")
            for bad in ["short", String(repeating: "!", count: 43), String(repeating: "a", count: 43)] {
                let response = try await server.acting(as: [:]).get(
                    "/api/v1/links/\(bad.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
                #expect(response.status == .unauthorized, "\(bad)")
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            // Bad link requests name the field.
            let badCap = try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["max_uploads": 0])
            #expect(try badCap.status == .badRequest && badCap.json()["field"] as? String == "max_uploads")
            let badLabel = try await server.send(
                .post, "/api/v1/projects/\(project)/links", json: ["label_choices": [""]])
            #expect(badLabel.status == .badRequest)
        }
    }
}

@Suite("Link management on the project page")
struct LinkPageTests {
    @Test("owners see their links with revoke buttons; viewers do not")
    func ownersOnly() async throws {
        try await TestServer.with(.sqlite) { server in
            let project = try await server.createProject("p")
            _ = try await server.send(
                .post, "/api/v1/projects/\(project)/links", json: ["name": "market day", "max_uploads": 5])
            let ownerPage = try await server.get("/projects/\(project)").text
            #expect(ownerPage.contains("market day") && ownerPage.contains("0 of 5") && ownerPage.contains("Revoke"))
            let viewer = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "vic", password: "vic-password", isAdmin: false)
            try await server.store.accounts.setRole(projectID: project, userID: viewer.id, .viewer)
            let token = try await TestAccounts.token(for: viewer, scopes: [.read], in: server.store)
            let viewerPage = try await server.acting(as: TestServer.bearer(token)).get("/projects/\(project)").text
            #expect(!viewerPage.contains("market day") && !viewerPage.contains("create-link"))
        }
    }
}
