import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisTesting
import NIOCore
import Testing

@Suite("Projects over HTTP")
struct ProjectAPITests {
    @Test("create, read, list, patch and delete", arguments: TestDatabase.enabled)
    func lifecycle(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let created = try await server.send(
                .post, "/api/v1/projects",
                json: ["name": "  Birds ", "description": "garden", "label_set": ["robin", "wren", "robin"]])
            #expect(created.status == .created)
            let project = try created.json()
            let id = try #require(project["id"] as? Int)
            #expect(created.headers[.location] == "/api/v1/projects/\(id)")
            #expect(project["name"] as? String == "Birds")
            #expect(project["label_set"] as? [String] == ["robin", "wren"])

            let patched = try await server.send(
                .patch, "/api/v1/projects/\(id)", json: ["description": "feeder cam", "label_set": NSNull()])
            #expect(patched.status == .ok)
            #expect(try patched.json()["description"] as? String == "feeder cam")
            #expect(try patched.json()["label_set"] == nil)
            #expect(try patched.json()["name"] as? String == "Birds")

            let list = try await server.get("/api/v1/projects").json()
            #expect((list["items"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["Birds"])

            #expect(try await server.delete("/api/v1/projects/\(id)").status == .noContent)
            #expect(try await server.get("/api/v1/projects/\(id)").status == .notFound)
        }
    }

    @Test("bad project bodies are 400 naming the field; a taken name is 409", arguments: TestDatabase.enabled)
    func validation(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let cases: [([String: Any], String)] = [
                ([:], "name"),
                (["name": ""], "name"),
                (["name": 42], "name"),
                (["name": String(repeating: "x", count: 201)], "name"),
                (["name": "ok", "label_set": "cat"], "label_set"),
                (["name": "ok", "label_set": [""]], "label_set"),
            ]
            for (body, field) in cases {
                let response = try await server.send(.post, "/api/v1/projects", json: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(try response.json()["field"] as? String == field, "\(body) → \(response.text)")
            }
            let notJSON = try await server.post(
                "/api/v1/projects", body: ByteBuffer(string: "{nope"), contentType: "application/json")
            #expect(notJSON.status == .badRequest)
            _ = try await server.createProject("taken")
            let taken = try await server.send(.post, "/api/v1/projects", json: ["name": "taken"])
            #expect(taken.status == .conflict)
            #expect(try await server.rowCount("projects") == 1)
        }
    }
}

@Suite("ImageFolder zip imports over HTTP", .timeLimit(.minutes(2)))
struct ImportAPITests {
    @Test(
        "folder names become labels; non-images are skipped and reported; a wrapping folder is not a class",
        arguments: TestDatabase.enabled)
    func importZip(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("pets")
            let zip = try Fixtures.zip([
                ("dataset/cats/1.jpg", try Fixtures.jpeg(seed: 1)),
                ("dataset/cats/2.png", try Fixtures.image(.png, seed: 2)),
                ("dataset/dogs/3.webp", try Fixtures.image(.webp, seed: 3)),
                ("dataset/dogs/notes.txt", Data("not an image".utf8)),
                ("dataset/.DS_Store", Data([0, 1, 2])),
                ("__MACOSX/dataset/cats/._1.jpg", Data([0, 1, 2])),
            ])
            let response = try await server.post(
                "/api/v1/projects/\(project)/imports", body: ByteBuffer(bytes: zip), contentType: "application/zip")
            #expect(response.status == .created, "\(response.text)")
            let report = try response.json()
            #expect(report["imported"] as? Int == 3)
            #expect(report["labels"] as? [String: Int] == ["cats": 2, "dogs": 1])
            let skipped = try #require(report["skipped"] as? [[String: Any]])
            #expect(skipped.compactMap { $0["path"] as? String } == ["dataset/dogs/notes.txt"])
            let cats = try await server.get("/api/v1/projects/\(project)/images?label=cats").json()
            #expect((cats["items"] as? [Any])?.count == 2)
            // Thumbnail jobs stage in scratch space too: wait for them before looking.
            try await server.settle()
            #expect(server.scratchFiles().isEmpty)

            // The same zip again: everything is a duplicate, nothing new is stored.
            let blobs = server.blobFiles().count
            let again = try await server.post(
                "/api/v1/projects/\(project)/imports", body: ByteBuffer(bytes: zip), contentType: "application/zip")
            #expect(again.status == .ok)
            #expect(try again.json()["duplicates"] as? Int == 3)
            #expect(server.blobFiles().count == blobs)
        }
    }

    /// Files are ingested several at once; the report still follows the zip's order, and the
    /// same image twice in one zip is stored once.
    @Test(
        "images ingested several at once: one copy of a repeated image, skips listed in the zip's order",
        arguments: TestDatabase.enabled)
    func importsSeveralAtOnce(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("many")
            var entries: [(String, Data)] = []
            for index in 0..<10 { entries.append(("set/a/\(index).jpg", try Fixtures.jpeg(seed: 100 + index))) }
            entries.insert(("set/a/broken-1.jpg", Data("not a photo".utf8)), at: 3)
            entries.insert(("set/b/again.jpg", try Fixtures.jpeg(seed: 104)), at: 8)
            entries.append(("set/b/broken-2.png", Data([0x89, 0x50, 0x4E, 0x47])))
            let response = try await server.post(
                "/api/v1/projects/\(project)/imports", body: ByteBuffer(bytes: try Fixtures.zip(entries)),
                contentType: "application/zip")
            #expect(response.status == .created, "\(response.text)")
            let report = try response.json()
            #expect(report["imported"] as? Int == 10)
            #expect(report["duplicates"] as? Int == 1)
            #expect(report["labels"] as? [String: Int] == ["a": 10, "b": 1])
            let skipped = try #require(report["skipped"] as? [[String: Any]])
            #expect(skipped.compactMap { $0["path"] as? String } == ["set/a/broken-1.jpg", "set/b/broken-2.png"])
            let all = try await server.get("/api/v1/projects/\(project)/images?limit=50").json()
            #expect((all["items"] as? [Any])?.count == 10)
            let again = try await server.get("/api/v1/projects/\(project)/images?label=b").json()
            #expect((again["items"] as? [Any])?.count == 1)
            // Nothing is left in scratch space once the thumbnail jobs (which stage there too) are done.
            try await server.settle()
            #expect(server.scratchFiles().isEmpty)
        }
    }

    @Test("the zip may also come as the multipart part file", arguments: TestDatabase.enabled)
    func multipartZip(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            var form = MultipartForm()
            form.addFile("file", fileName: "set.zip", data: try Fixtures.zip([("a/1.jpg", try Fixtures.jpeg(seed: 1))]))
            let response = try await server.post(
                "/api/v1/projects/\(project)/imports", body: form.body, contentType: form.contentType)
            #expect(response.status == .created)
            #expect(try response.json()["labels"] as? [String: Int] == ["a": 1])
        }
    }

    @Test("a folder not in the label set refuses the whole import", arguments: TestDatabase.enabled)
    func labelSetEnforced(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p", labelSet: ["cats"])
            let zip = try Fixtures.zip([
                ("cats/1.jpg", try Fixtures.jpeg(seed: 1)), ("horses/2.jpg", try Fixtures.jpeg(seed: 2)),
            ])
            let response = try await server.post(
                "/api/v1/projects/\(project)/imports", body: ByteBuffer(bytes: zip), contentType: "application/zip")
            #expect(response.status == .badRequest)
            #expect(try await server.rowCount("images") == 0)
            #expect(server.blobFiles().isEmpty)
        }
    }
}

@Suite("Operations endpoints and web pages")
struct OperationsTests {
    @Test("health, readiness, metrics and the OpenAPI document", arguments: TestDatabase.enabled)
    func operations(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            #expect(try await server.get("/healthz").json()["status"] as? String == "ok")
            #expect(try await server.get("/readyz").json()["status"] as? String == "ready")
            let project = try await server.createProject("p")
            let photo = try Fixtures.jpeg()
            _ = try await server.upload(photo, to: project)
            _ = try await server.upload(Data("nope".utf8), to: project)
            let metrics = try await server.get("/metrics").text
            #expect(metrics.contains(#"iris_uploads_total{outcome="created"} 1"#))
            #expect(metrics.contains(#"iris_uploads_total{outcome="rejected"} 1"#))
            #expect(metrics.contains("iris_stored_bytes_total \(photo.count)"))
            #expect(
                metrics.contains(
                    #"iris_http_requests_total{method="POST",route="/api/v1/projects/{id}/images",status="201"} 1"#))
            #expect(metrics.contains("iris_http_request_duration_seconds_bucket"))
            let spec = try await server.get("/api/v1/openapi.yaml")
            #expect(spec.status == .ok)
            #expect(spec.text.hasPrefix("openapi: 3.1"))
        }
    }

    @Test(
        "the home page lists projects and a project page shows its gallery with labels", arguments: TestDatabase.enabled
    )
    func pages(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("Garden <birds>")
            let sha256 = try #require(
                try await server.upload(try Fixtures.jpeg(), to: project, name: "robin.jpg", labels: ["robin"]).json()[
                    "sha256"] as? String)
            let home = try await server.get("/")
            #expect(home.headers[.contentType] == "text/html; charset=utf-8")
            #expect(home.text.contains("Garden &lt;birds&gt;"))
            #expect(!home.text.contains("<birds>"))
            let page = try await server.get("/projects/\(project)").text
            #expect(page.contains("/api/v1/images/\(sha256)/thumbnail?size=256"))
            #expect(page.contains(">robin<"))
            #expect(page.contains("type=\"file\""))
            #expect(try await server.get("/static/app.css").status == .ok)
            #expect(try await server.get("/static/../Package.swift").status == .notFound)
        }
    }
}
