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
        for table in [
            "projects", "images", "project_images", "labels", "users", "sessions", "api_tokens", "project_members",
            "events", "upload_links",
        ] {
            let all = try await server.store.database.withConnection { db in
                try await db.raw("SELECT * FROM \(unsafeRaw: table)").all()
            }
            for row in all {
                rows.append(
                    table + ": "
                        + row.allColumns.sorted().map { column in
                            "\(column)=\((try? row.decodeNil(column: column)) == true ? "null" : (try? row.decode(column: column, as: String.self)) ?? (try? row.decode(column: column, as: Int64.self)).map(String.init) ?? (try? row.decode(column: column, as: Double.self)).map { "\($0)" } ?? "?")"
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
            // setup: a project and one kept image exist before the session
            let project = try await server.createProject("demo", labelSet: ["cat", "dog"])
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
            // check: everything answered as usual...
            #expect(upload.status == .created && again.status == .created && bad.status == .unsupportedMediaType)
            #expect(upload.headers[.init("Iris-Mode")!] == "demo")
            let image = try #require(try upload.json()["image"] as? [String: Any])
            #expect(image["width"] as? Int == 800)
            #expect((image["labels"] as? [[String: Any]])?.first?["name"] as? String == "cat")
            #expect(try imported.json()["imported"] as? Int == 2)
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
        "read-only mode: every write is refused with 503 and a clear message; reads work",
        arguments: TestDatabase.enabled)
    func readOnly(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.mode = .readOnly }) { server in
            // Writes refused, through every kind of route.
            let attempts = [
                try await server.send(.post, "/api/v1/projects", json: ["name": "x"]),
                try await server.upload(try Fixtures.jpeg(), to: 1),
                try await server.send(.post, "/api/v1/tokens", json: ["name": "t"]),
                try await server.delete("/api/v1/projects/1"),
            ]
            for response in attempts {
                #expect(response.status == .serviceUnavailable)
                #expect(
                    try response.json()["detail"] as? String
                        == "this Iris instance is in read-only mode: nothing can be changed now")
            }
            // Reads work.
            #expect(try await server.get("/api/v1/projects").status == .ok)
            #expect(try await server.get("/healthz").headers[.init("Iris-Mode")!] == "read-only")
            #expect(try await server.rowCount("projects") == 0)
        }
    }
}
