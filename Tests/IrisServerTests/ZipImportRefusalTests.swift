import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisTesting
import NIOCore
import Testing

/// Zips a hostile tester built: each is refused whole with a 4xx naming the entry, stores
/// nothing (not even the honest images before the bad entry), and ends in bounded time.
extension BadInputTests {
    func importing(_ zip: Data, on server: TestServer) async throws -> TestResponse {
        let project = try await server.createProject("p")
        return try await server.post(
            "/api/v1/projects/\(project)/imports", body: ByteBuffer(bytes: zip), contentType: "application/zip")
    }

    @Test(
        // Two minutes: the server's start on a loaded 2-core machine, and less than the reader's
        // own 120 s last guard, so a stream that spins until that guard still fails here.
        "a deflate stream that can never end is a 422, not an import that never answers", .timeLimit(.minutes(2)),
        arguments: TestDatabase.enabled)
    func endlessDeflate(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let response = try await importing(HostileZips.storedBlockLongerThanFile(), on: server)
            try await expectRefused(
                response, status: .unprocessableContent, field: "file", mentioning: "cats/endless.jpg", on: server)
        }
    }

    @Test(
        // Four servers start inside this one test (a minute was too little on a cold, busy machine).
        "honest images followed by a bad entry: refused whole, none stored", .timeLimit(.minutes(3)),
        arguments: TestDatabase.enabled)
    func badEntryAfterHonestOnes(database: TestDatabase) async throws {
        let cases: [(String, Data, HTTPResponse.Status, String)] = [
            (
                "inflates past its declared size", try HostileZips.inflatesPastDeclaredSize(), .contentTooLarge,
                "cats/liar.jpg"
            ),
            ("corrupt deflate", try HostileZips.corruptDeflate(), .unprocessableContent, "cats/corrupt.jpg"),
            ("LZMA", try HostileZips.lzmaEntry(), .unprocessableContent, "LZMA"),
            ("wrong CRC-32", try HostileZips.wrongChecksum(), .unprocessableContent, "CRC-32"),
        ]
        for (name, zip, status, phrase) in cases {
            try await TestServer.with(database) { server in
                let response = try await importing(zip, on: server)
                #expect(response.status == status, "\(name): \(response.text)")
                try await expectRefused(response, status: status, field: "file", mentioning: phrase, on: server)
            }
        }
    }

    @Test(
        "entries that share their data (zip amplification) are refused whole", .timeLimit(.minutes(3)),
        arguments: TestDatabase.enabled)
    func overlappingEntries(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let response = try await importing(try HostileZips.overlappingEntries(), on: server)
            try await expectRefused(
                response, status: .unprocessableContent, field: "file", mentioning: "overlap", on: server)
        }
    }

    @Test(
        "a damaged central directory is a 422 naming the damage", .timeLimit(.minutes(3)),
        arguments: TestDatabase.enabled)
    func damagedCentralDirectory(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let response = try await importing(try HostileZips.damagedDirectory(), on: server)
            try await expectRefused(
                response, status: .unprocessableContent, field: "file", mentioning: "central directory", on: server)
        }
    }
}
