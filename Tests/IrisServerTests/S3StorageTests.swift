import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisBlobs
import IrisCore
import IrisServices
import IrisTesting
import Testing

/// Iris with `storage.backend s3`: uploads, thumbnails and originals go through the bucket,
/// deletion removes them there, and when the bucket cannot take a write the upload is a 503
/// with nothing committed, and succeeds again once it can.
@Suite("Iris on S3 storage")
struct S3StorageTests {
    @Test("an upload lands in the bucket; thumbnails and ranged originals are served from it; removal deletes it")
    func roundTrip() async throws {
        guard TestStorage.enabled.contains(.s3) else { return }
        let location = try TestStorage.location()
        try await TestServer.with(.sqlite, configure: { $0.storage = StorageSettings(backend: .s3, s3: location) }) {
            server in
            let s3 = try #require(server.dependencies.blobs as? S3BlobStore)
            let project = try await server.createProject("bucketed")
            let photo = try Fixtures.jpeg(width: 640, height: 480, seed: 41)
            let uploaded = try await server.upload(photo, to: project)
            #expect(uploaded.status == .created, "\(uploaded.text)")
            let sha256 = try #require(try uploaded.json()["sha256"] as? String)
            // In the bucket under the prefix, not in the data folder.
            #expect(try await s3.client.listKeys(under: "originals/").contains { $0.hasSuffix(sha256) })
            #expect(
                !FileManager.default.fileExists(
                    atPath: server.dataDirectory.appendingPathComponent("blobs/originals").path))
            // Read back through the server from a cold cache.
            await s3.cache.remove(.original(sha256))
            let original = try await server.get("/api/v1/images/\(sha256)/original")
            #expect(original.status == .ok && original.data == photo)
            let ranged = try await server.get("/api/v1/images/\(sha256)/original", headers: [.range: "bytes=10-19"])
            #expect(ranged.status == .partialContent && ranged.data == photo[10..<20])
            let thumbnail = try await server.get("/api/v1/images/\(sha256)/thumbnail?size=256")
            #expect(thumbnail.status == .ok && thumbnail.headers[.contentType] == "image/jpeg")
            // Removed from its only project: gone from the bucket.
            #expect(try await server.delete("/api/v1/projects/\(project)/images/\(sha256)").status == .noContent)
            #expect(try await s3.size(of: .original(sha256)) == nil)
        }
    }

    @Test(
        "when the bucket refuses writes an upload is a 503 naming no server detail, commits nothing, and works once it is back"
    )
    func unavailable() async throws {
        guard TestStorage.enabled.contains(.s3) else { return }
        var location = try TestStorage.location(prefix: "")
        location.bucket = "iris-fault-\(UUID().uuidString.lowercased().prefix(8))"
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let admin = S3Client(location: location, http: http)
        try await admin.createBucket()
        try await TestServer.with(.sqlite, configure: { $0.storage = StorageSettings(backend: .s3, s3: location) }) {
            server in
            let project = try await server.createProject("faults")
            let photo = try Fixtures.jpeg(width: 320, height: 240, seed: 42)
            let rowsBefore = try await server.rowCount("images")
            // act: the bucket goes away (the server stays up)
            try await admin.deleteBucket()
            let refused = try await server.upload(photo, to: project)
            // check
            #expect(refused.status == .serviceUnavailable, "\(refused.text)")
            #expect(refused.headers[.contentType] == "application/problem+json")
            #expect(refused.text.contains("storage is not available") && !refused.text.contains("127.0.0.1"))
            #expect(try await server.rowCount("images") == rowsBefore)
            #expect(server.scratchFiles().isEmpty)
            // The bucket is back: the same upload succeeds.
            try await admin.createBucket()
            #expect(try await server.upload(photo, to: project).status == .created)
            #expect(try await server.rowCount("images") == rowsBefore + 1)
        }
        for key in try await admin.listKeys(under: "") { try await admin.deleteObject(key) }
        try await admin.deleteBucket()
        try await http.shutdown()
    }
}
