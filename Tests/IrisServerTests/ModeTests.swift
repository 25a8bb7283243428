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

@Suite("Demo and read-only modes")
struct ModeTests {
    /// Every table's rows, as text, and every file in the data folder but the database's own.
    func snapshot(_ server: TestServer) async throws -> (rows: [String], files: [String: Data]) {
        var rows: [String] = []
        // Left out: the webhook dispatcher's place in the event log and the scheduler's hourly
        // jobs, which move on their own clock, not because of any request.
        for table in try await server.tableNames() where !["cursors", "job_runs"].contains(table) {
            let all = try await server.store.database.withConnection { db in
                try await db.raw("SELECT * FROM \(unsafeRaw: table)").all()
            }
            for row in all
            where (try? row.decode(column: "idempotency_key", as: String.self))?.hasPrefix("periodic:") != true {
                rows.append(
                    table + ": "
                        + row.allColumns.sorted().map { column in
                            "\(column)=\((try? row.decodeNil(column: column)) == true ? "null" : (try? row.decode(column: column, as: Int64.self)).map(String.init) ?? (try? row.decode(column: column, as: Double.self)).map { "\($0)" } ?? (try? row.decode(column: column, as: String.self)) ?? "?")"
                        }.joined(separator: ","))
            }
        }
        var files: [String: Data] = [:]
        let root = server.dataDirectory
        if let enumerator = FileManager.default.enumerator(atPath: root.path) {
            while let path = enumerator.nextObject() as? String {
                var isDirectory: ObjCBool = false
                let url = root.appendingPathComponent(path)
                guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory),
                    !isDirectory.boolValue, !path.hasPrefix("test.sqlite")
                else { continue }
                files[path] = try Data(contentsOf: url)
            }
        }
        return (rows.sorted(), files)
    }

    @Test(
        "demo mode: a session of uploads works and leaves the database and data folder exactly as they were",
        arguments: TestDatabase.enabled)
    func demo(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.mode = .demo }) { server in
            // setup: a project and a contributor link exist before the session
            let project = try await server.createProject("demo", labelSet: ["cat", "dog"])
            let link = try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "crowd"])
            let code = try #require(try link.json()["code"] as? String)
            let before = try await snapshot(server)
            #expect(
                before.rows.count >= 5,
                "the snapshot must see the project, user, token, role and event rows: \(before.rows)")
            // act: a session of uploads and an import
            let upload = try await server.upload(
                try Fixtures.jpeg(width: 800, height: 600, seed: 7), to: project, labels: ["cat"])
            let again = try await server.upload(try Fixtures.image(.png, seed: 8), to: project, labels: ["dog"])
            let bad = try await server.upload(Data("not an image".utf8), to: project)
            let zip = try Fixtures.zip([
                ("cat/a.jpg", try Fixtures.jpeg(seed: 9)), ("dog/b.jpg", try Fixtures.jpeg(seed: 10)),
            ])
            let imported = try await server.post(
                "/api/v1/projects/\(project)/imports", body: ByteBuffer(bytes: zip), contentType: "application/zip")
            // Every other route that takes a photo: through a link, for analysis, for the learner.
            var linkForm = MultipartForm()
            linkForm.addField("label", "dog")
            linkForm.addFile("file", fileName: "l.jpg", data: try Fixtures.jpeg(seed: 11))
            let linked = try await server.acting(as: [:]).post(
                "/api/v1/links/\(code)/images", body: linkForm.body, contentType: linkForm.contentType)
            var analysisForm = MultipartForm()
            analysisForm.addField("project_id", String(project))
            analysisForm.addField("models", "mobilenet-v2")
            analysisForm.addFile("file", fileName: "a.jpg", data: try Fixtures.jpeg(seed: 12))
            let analysed = try await server.post(
                "/api/v1/analyses", body: analysisForm.body, contentType: analysisForm.contentType)
            let classZip = try Fixtures.zip([("cat/c.jpg", try Fixtures.jpeg(seed: 13))])
            let taught = try await LearningAPITests.addClass(server, project: project, name: "cat", zip: classZip)
            // check: everything answered as usual...
            #expect(upload.status == .created && again.status == .created && bad.status == .unsupportedMediaType)
            #expect(upload.headers[.init("Iris-Mode")!] == "demo")
            let image = try #require(try upload.json()["image"] as? [String: Any])
            #expect(image["width"] as? Int == 800)
            #expect((image["labels"] as? [[String: Any]])?.first?["name"] as? String == "cat")
            #expect(try imported.json()["imported"] as? Int == 2)
            #expect(linked.status == .created, "\(linked.text)")
            #expect(analysed.status.code < 500 && taught.status.code < 500, "\(analysed.text) \(taught.text)")
            // ...and nothing was kept.
            let after = try await snapshot(server)
            #expect(after.rows == before.rows)
            #expect(after.files == before.files)
            // The pages say so.
            let page = try await server.get("/projects/\(project)")
            #expect(page.text.contains("Demo mode: everything works, but nothing you upload is kept."))
        }
    }

    @Test(
        "read-only mode: every write route the router has is refused with 503 and changes nothing; reads work",
        arguments: TestDatabase.enabled)
    func readOnly(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.mode = .readOnly }) { server in
            let before = try await snapshot(server)
            // Every write route (from the router's catalog, so new ones are covered), as the administrator.
            let writes = server.catalog.routes.filter {
                ![.get, .head].contains($0.method) && !["/login", "/logout"].contains($0.pattern)
            }
            #expect(writes.count >= 30, "\(writes)")
            let sha256 = String(repeating: "ab", count: 32)
            for route in writes {
                var path = route.pattern
                for (placeholder, value) in [
                    ("{sha256}", sha256), ("{code}", "iris_" + String(repeating: "A", count: 43)),
                ] {
                    path = path.replacingOccurrences(of: placeholder, with: value)
                }
                path = path.replacing(#/\{[A-Za-z]+\}/#, with: "1")
                let response = try await server.request(
                    route.method, path, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{}"))
                #expect(response.status == .serviceUnavailable, "\(route): \(response.status) \(response.text)")
                // The Open Inference Protocol's routes answer in its own error shape, `{"error": …}`.
                let body = try response.json()
                let message = route.pattern.hasPrefix("/v2/") ? body["error"] : body["detail"]
                #expect(
                    message as? String == "this Iris instance is in read-only mode: nothing can be changed now",
                    "\(route)")
            }
            let after = try await snapshot(server)
            #expect(after.rows == before.rows)
            #expect(after.files == before.files)
            // Reads work.
            #expect(try await server.get("/api/v1/projects").status == .ok)
            #expect(try await server.get("/healthz").headers[.init("Iris-Mode")!] == "read-only")
            #expect(try await server.rowCount("projects") == 0)
        }
    }
}
