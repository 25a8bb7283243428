import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisServer
import IrisServices
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
