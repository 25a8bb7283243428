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

/// Every refusal must: answer the right 4xx with a problem+json body naming the fault,
/// leave no row and no file behind, and leave the server serving.
@Suite("Bad input is refused cleanly")
struct BadInputTests {
    func expectRefused(
        _ response: TestResponse, status: HTTPResponse.Status, field: String? = nil, mentioning phrase: String? = nil,
        on server: TestServer, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        let problem = try response.json()
        #expect(problem["status"] as? Int == Int(status.code), sourceLocation: sourceLocation)
        #expect((problem["detail"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        if let field { #expect(problem["field"] as? String == field, sourceLocation: sourceLocation) }
        if let phrase {
            #expect(
                (problem["detail"] as? String)?.contains(phrase) == true, "\(problem)", sourceLocation: sourceLocation)
        }
        #expect(try await server.rowCount("images") == 0, sourceLocation: sourceLocation)
        #expect(try await server.rowCount("project_images") == 0, sourceLocation: sourceLocation)
        #expect(try await server.rowCount("labels") == 0, sourceLocation: sourceLocation)
        #expect(server.blobFiles().isEmpty, sourceLocation: sourceLocation)
        #expect(server.scratchFiles().isEmpty, "\(server.scratchFiles())", sourceLocation: sourceLocation)
        #expect(try await server.get("/healthz").status == .ok, sourceLocation: sourceLocation)
    }

    @Test("a truncated JPEG is 422", arguments: TestDatabase.enabled)
    func truncatedJPEG(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let response = try await server.upload(try Fixtures.truncatedJPEG(), to: project, labels: ["x"])
            try await expectRefused(
                response, status: .unprocessableContent, field: "file", mentioning: "corrupt or truncated", on: server)
        }
    }

    @Test("a JPEG with corrupt entropy data, or without its EOI marker, is 422", arguments: TestDatabase.enabled)
    func damagedJPEGs(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let corrupt = try await server.upload(try Fixtures.corruptEntropyJPEG(), to: project)
            try await expectRefused(
                corrupt, status: .unprocessableContent, field: "file", mentioning: "Corrupt JPEG data", on: server)
            for _ in 0..<5 {
                let cut = try await server.upload(try Fixtures.jpegWithoutEOI(), to: project)
                try await expectRefused(
                    cut, status: .unprocessableContent, field: "file", mentioning: "Premature end of JPEG file",
                    on: server)
            }
        }
    }

    @Test("a text file named .jpg is 415", arguments: TestDatabase.enabled)
    func textAsJPEG(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let response = try await server.upload(Data("just some text\n".utf8), to: project, name: "holiday.jpg")
            try await expectRefused(response, status: .unsupportedMediaType, field: "file", on: server)
        }
    }

    @Test("an SVG is 415", arguments: TestDatabase.enabled)
    func svg(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let response = try await server.upload(Fixtures.svg, to: project, name: "logo.svg")
            try await expectRefused(response, status: .unsupportedMediaType, field: "file", on: server)
        }
    }

    @Test("a 20000×20000 PNG of a few KB is refused before decoding (422)", arguments: TestDatabase.enabled)
    func pixelBomb(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let bomb = try Fixtures.pixelBomb()
            #expect(bomb.count < 100_000)
            let response = try await server.upload(bomb, to: project, name: "bomb.png")
            try await expectRefused(
                response, status: .unprocessableContent, field: "file", mentioning: "400000000 pixels", on: server)
        }
    }

    @Test(
        "a learner class that cannot be made leaves no image, membership, label or blob behind",
        arguments: TestDatabase.enabled)
    func refusedClassStoresNothing(database: TestDatabase) async throws {
        // The learner's model is not one this server has: the class cannot be embedded.
        try await TestServer.with(database, configure: { $0.models.learnerModel = "no-such-model" }) { server in
            let project = try await server.createProject("p")
            let zip = try Fixtures.zip([
                ("a/1.jpg", try Fixtures.jpeg(seed: 1)), ("a/2.jpg", try Fixtures.jpeg(seed: 2)),
            ])
            let response = try await LearningAPITests.addClass(server, project: project, name: "a", zip: zip)
            try await expectRefused(response, status: .conflict, mentioning: "no-such-model", on: server)
        }
    }

    @Test(
        "undoing an import takes back exactly what it changed: new photos go, older ones lose only its labels",
        arguments: TestDatabase.enabled)
    func importUndo(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: one photo already in the project with its own label.
            let project = try await server.createProject("p")
            let old = try Fixtures.jpeg(seed: 1)
            #expect(try await server.upload(old, to: project, labels: ["mine"]).status == .created)
            try await server.settle()
            let before = (
                try await server.rowCount("images"), try await server.rowCount("labels"), server.blobFiles().sorted()
            )
            let importer = try server.dependencies.importer(server.settings)
            let zip = server.dataDirectory.appendingPathComponent("class.zip")
            try Fixtures.zip([("a/old.jpg", old), ("a/new.jpg", try Fixtures.jpeg(seed: 2))]).write(to: zip)
            let projectRecord = try await server.store.projects.require(id: project)

            // act
            let report = try await importer.importZip(at: zip, into: projectRecord, labelFromFolders: false, label: "a")
            #expect(report.imported == 1 && report.duplicates == 1)
            try await importer.undo(report, in: project)

            // check
            #expect(try await server.rowCount("images") == before.0)
            #expect(try await server.rowCount("project_images") == 1)
            #expect(try await server.rowCount("labels") == before.1)
            let labels = try await server.store.images.member(sha256: report.sha256s[0], of: project)?.labels
            #expect(labels?.map(\.name) == ["mine"])
            #expect(server.blobFiles().sorted() == before.2)
        }
    }

    @Test("a name's length counts code points, as the schema's maxLength does", arguments: TestDatabase.enabled)
    func lengthInCodePoints(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // 110 thumbs with a skin tone: 110 characters on screen (under the 200 allowed), 220 code points.
            let name = String(repeating: "\u{1F44D}\u{1F3FB}", count: 110)
            let refused = try await server.send(.post, "/api/v1/projects", json: ["name": name])
            #expect(refused.status == .badRequest, "\(refused.text)")
            #expect(try refused.json()["field"] as? String == "name")
            #expect(try await server.rowCount("projects") == 0)
        }
    }

    @Test("labels with invisible formatting characters are refused, naming the field", arguments: TestDatabase.enabled)
    func invisibleLabels(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            for label in ["invoice\u{202E}gpj.exe", "a\u{200B}b"] {
                let response = try await server.upload(try Fixtures.jpeg(seed: 5), to: project, labels: [label])
                try await expectRefused(
                    response, status: .badRequest, field: "label", mentioning: "invisible", on: server)
            }
        }
    }

    @Test(
        "photos sent for analysis count against the sender's upload rate, as uploads do",
        arguments: TestDatabase.enabled)
    func analysesShareTheUploadRate(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.uploadRateLimit = 1 }) { server in
            let project = try await server.createProject("p")
            #expect(try await server.upload(try Fixtures.jpeg(seed: 1), to: project).status == .created)
            var form = MultipartForm()
            form.addField("project_id", String(project))
            form.addField("models", "mobilenet-v2")
            form.addFile("file", fileName: "a.jpg", data: try Fixtures.jpeg(seed: 2), type: "image/jpeg")
            let refused = try await server.post("/api/v1/analyses", body: form.body, contentType: form.contentType)
            #expect(refused.status == .tooManyRequests, "\(refused.text)")
            #expect(refused.headers[.retryAfter] != nil)
            #expect(try await server.rowCount("images") == 1)
        }
    }

    @Test("a zip with ../ entries is refused whole (zip slip)", arguments: TestDatabase.enabled)
    func zipSlip(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let zip = try Fixtures.zip([
                ("cats/ok.jpg", try Fixtures.jpeg(seed: 1)), ("../../evil.jpg", try Fixtures.jpeg(seed: 2)),
            ])
            let response = try await server.post(
                "/api/v1/projects/\(project)/imports", body: ByteBuffer(bytes: zip), contentType: "application/zip")
            try await expectRefused(response, status: .badRequest, mentioning: "zip slip", on: server)
        }
    }

    @Test("a zip bomb is refused by its compression ratio (413)", arguments: TestDatabase.enabled)
    func zipBomb(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let zip = try Fixtures.zipBomb(megabytes: 64)
            #expect(zip.count < 1_000_000)
            let response = try await server.post(
                "/api/v1/projects/\(project)/imports", body: ByteBuffer(bytes: zip), contentType: "application/zip")
            try await expectRefused(response, status: .contentTooLarge, mentioning: "zip bomb", on: server)
        }
    }

    @Test("a zip with more entries than allowed is refused (413)", arguments: TestDatabase.enabled)
    func zipTooManyEntries(database: TestDatabase) async throws {
        var limits = IngestLimits()
        limits.maxZipEntries = 3
        try await TestServer.with(database, limits: limits) { server in
            let project = try await server.createProject("p")
            let zip = try Fixtures.zip((0..<4).map { ("c/\($0).jpg", Data("x\($0)".utf8)) })
            let response = try await server.post(
                "/api/v1/projects/\(project)/imports", body: ByteBuffer(bytes: zip), contentType: "application/zip")
            try await expectRefused(response, status: .contentTooLarge, mentioning: "at most 3 are allowed", on: server)
        }
    }

    @Test(
        "a body over the size limit is 413, refused from its Content-Length or while streaming",
        arguments: TestDatabase.enabled)
    func oversize(database: TestDatabase) async throws {
        var limits = IngestLimits()
        limits.maxUploadBytes = 1 << 20
        try await TestServer.with(database, limits: limits) { server in
            let project = try await server.createProject("p")
            let big = try Fixtures.jpeg(width: 3000, height: 3000, seed: 5) + Data(count: 2 << 20)
            let response = try await server.upload(big, to: project)
            try await expectRefused(response, status: .contentTooLarge, on: server)
        }
    }

    @Test("a request without a file part is 400 naming it", arguments: TestDatabase.enabled)
    func missingFile(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            var form = MultipartForm()
            form.addField("label", "cat")
            let response = try await server.post(
                "/api/v1/projects/\(project)/images", body: form.body, contentType: form.contentType)
            try await expectRefused(response, status: .badRequest, field: "file", on: server)
        }
    }

    @Test("an empty file is 400", arguments: TestDatabase.enabled)
    func emptyFile(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let response = try await server.upload(Data(), to: project)
            try await expectRefused(response, status: .badRequest, field: "file", mentioning: "empty", on: server)
        }
    }

    @Test("an unknown project is 404", arguments: TestDatabase.enabled)
    func unknownProject(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let response = try await server.upload(try Fixtures.jpeg(), to: 4242)
            try await expectRefused(response, status: .notFound, mentioning: "4242", on: server)
            let zip = try await server.post(
                "/api/v1/projects/4242/imports", body: ByteBuffer(bytes: try Fixtures.zip([])),
                contentType: "application/zip")
            try await expectRefused(zip, status: .notFound, on: server)
        }
    }

    @Test("a body that is not multipart, or multipart cut short, is refused", arguments: TestDatabase.enabled)
    func malformedMultipart(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let json = try await server.post(
                "/api/v1/projects/\(project)/images", body: ByteBuffer(string: "{}"), contentType: "application/json")
            try await expectRefused(json, status: .unsupportedMediaType, field: "Content-Type", on: server)
            var form = MultipartForm()
            form.addFile("file", fileName: "a.jpg", data: try Fixtures.jpeg())
            var cut = form.body
            cut.moveWriterIndex(to: cut.writerIndex - 200)
            let truncated = try await server.post(
                "/api/v1/projects/\(project)/images", body: cut, contentType: form.contentType)
            try await expectRefused(truncated, status: .badRequest, on: server)
        }
    }

    @Test("a label outside the project's label set is 400 naming it", arguments: TestDatabase.enabled)
    func labelOutsideSet(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p", labelSet: ["cat", "dog"])
            let response = try await server.upload(try Fixtures.jpeg(), to: project, labels: ["horse"])
            try await expectRefused(response, status: .badRequest, field: "label", mentioning: "horse", on: server)
        }
    }

    @Test("malformed ids and hashes are 400, unknown ones 404", arguments: TestDatabase.enabled)
    func badIdentifiers(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            try await expectRefused(
                try await server.get("/api/v1/projects/abc"), status: .badRequest, field: "id", on: server)
            try await expectRefused(
                try await server.get("/api/v1/images/xyz"), status: .badRequest, field: "sha256", on: server)
            try await expectRefused(
                try await server.get("/api/v1/images/\(String(repeating: "0", count: 64))"), status: .notFound,
                on: server)
            try await expectRefused(try await server.get("/api/v1/nowhere"), status: .notFound, on: server)
        }
    }

    /// PostgreSQL cannot hold text with NUL in it; found by schemathesis as a 500 on
    /// `GET /jobs?kind=%00…`. Every way text comes in refuses it with a 400 naming where it was.
    @Test("text with a NUL character is 400 in a query, a JSON body or a form field", arguments: TestDatabase.enabled)
    func nulCharacters(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            try await expectRefused(
                try await server.get("/api/v1/jobs?kind=%00x&state=failed"), status: .badRequest, field: "kind",
                mentioning: "NUL", on: server)
            try await expectRefused(
                try await server.get("/api/v1/projects/\(project)/images?label=a%00b"), status: .badRequest,
                field: "label", mentioning: "NUL", on: server)
            let before = try await server.rowCount("projects")
            let json = try await server.post(
                "/api/v1/projects", body: ByteBuffer(string: #"{"name": "a\u0000b"}"#), contentType: "application/json")
            try await expectRefused(json, status: .badRequest, mentioning: "NUL", on: server)
            #expect(try await server.rowCount("projects") == before)
            let form = try await server.upload(try Fixtures.jpeg(), to: project, labels: ["cat\u{0}dog"])
            try await expectRefused(form, status: .badRequest, field: "label", mentioning: "NUL", on: server)
            // An escaped backslash before "u0000" is an ordinary string.
            let fine = try await server.post(
                "/api/v1/projects", body: ByteBuffer(string: #"{"name": "a\\u0000b"}"#), contentType: "application/json"
            )
            #expect(fine.status == .created, "\(fine.text)")
        }
    }
}
