import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisBlobs
import IrisCore
import IrisServices
import IrisTesting
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Iris with `storage.backend s3`: uploads, thumbnails and originals go through the bucket,
/// deletion removes them there, and when the bucket cannot take a write the upload is a 503
/// with nothing committed, and succeeds again once it can.
@Suite("Iris on S3 storage")
struct S3StorageTests {
    @Test(
        "an upload lands in the bucket; thumbnails and ranged originals are served from it; removal deletes it",
        .enabled(if: TestStorage.enabled.contains(.s3), "IRIS_TEST_S3_URL is not set"))
    func roundTrip() async throws {
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
        "an original deleted from the bucket behind Iris's back is a clear 404, not a 500 or a stale copy",
        .enabled(if: TestStorage.enabled.contains(.s3), "IRIS_TEST_S3_URL is not set"))
    func deletedBehindTheBack() async throws {
        let location = try TestStorage.location()
        try await TestServer.with(.sqlite, configure: { $0.storage = StorageSettings(backend: .s3, s3: location) }) {
            server in
            let s3 = try #require(server.dependencies.blobs as? S3BlobStore)
            let project = try await server.createProject("tampered")
            let photo = try Fixtures.jpeg(width: 320, height: 240, seed: 43)
            let sha256 = try #require(try await server.upload(photo, to: project).json()["sha256"] as? String)
            try await server.settle(timeout: 60)  // its thumbnail job done: nothing reads the original meanwhile
            // act: the object goes, and this server's cached copy with it (as on another machine)
            try await s3.client.deleteObject(BlobKey.original(sha256).path)
            await s3.cache.remove(.original(sha256))
            let missing = try await server.get("/api/v1/images/\(sha256)/original")
            // check
            #expect(missing.status == .notFound, "\(missing.text)")
            #expect(missing.headers[.contentType] == "application/problem+json")
            #expect(missing.text.contains("missing from the blob store"))
        }
    }

    @Test(
        "an S3 server that accepts connections and never answers: retried, then unavailable, within bounds",
        .enabled(if: TestStorage.enabled.contains(.s3), "IRIS_TEST_S3_URL is not set"))
    func silentServer() async throws {
        // A listener that never accepts: the kernel completes the connections and nothing answers.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        listen(listener, 64)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        defer { close(listener) }
        var silent = try TestStorage.location()
        silent.endpoint = URL(string: "http://127.0.0.1:\(Int(UInt16(bigEndian: address.sin_port)))")!
        silent.timeout = 1
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("silent-\(UUID().uuidString)")
        let store = S3BlobStore(
            client: S3Client(location: silent, http: http),
            cache: try BlobCache(root: folder.appendingPathComponent("cache"), capacity: 1 << 20),
            scratch: try ScratchSpace(directory: folder.appendingPathComponent("tmp")))
        let started = ContinuousClock.now
        await #expect(throws: BlobStoreUnavailable.self) {
            try await store.put(.mask(String(repeating: "e", count: 64)), data: Data("x".utf8))
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        // Four attempts of 1 s with 0.25, 0.5 and 1 s between them (5.75 s; longer on a loaded
        // machine): retried, and bounded rather than hung.
        #expect(seconds > 3.5 && seconds < 60, "\(seconds) s")
        try await http.shutdown()
        try? FileManager.default.removeItem(at: folder)
    }

    @Test(
        "when the bucket refuses writes an upload is a 503 naming no server detail, commits nothing, and works once it is back",
        .enabled(if: TestStorage.enabled.contains(.s3), "IRIS_TEST_S3_URL is not set")
    )
    func unavailable() async throws {
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

    @Test(
        "with storage.s3.public_url, originals and thumbnails redirect to presigned URLs S3 serves and checks; access comes first",
        .enabled(if: TestStorage.enabled.contains(.s3), "IRIS_TEST_S3_URL is not set")
    )
    func presignedRedirects() async throws {
        var location = try TestStorage.location()
        // The public address is another name for the same server, so the redirect is seen to use it.
        let port = try #require(location.endpoint.port)
        location.publicEndpoint = URL(string: "http://localhost:\(port)")
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = http.shutdown() }
        try await TestServer.with(.sqlite, configure: { $0.storage = StorageSettings(backend: .s3, s3: location) }) {
            server in
            let project = try await server.createProject("presigned")
            let photo = try Fixtures.jpeg(width: 640, height: 480, seed: 44)
            let sha256 = try #require(try await server.upload(photo, to: project).json()["sha256"] as? String)
            let other = try Fixtures.jpeg(width: 320, height: 240, seed: 45)
            let otherSHA = try #require(try await server.upload(other, to: project).json()["sha256"] as? String)

            let redirect = try await server.get("/api/v1/images/\(sha256)/original")
            #expect(redirect.status == .temporaryRedirect, "\(redirect.text)")
            let target = try #require(redirect.headers[.location].flatMap(URL.init(string:)))
            #expect(target.host == "localhost" && target.port == port && target.path.hasSuffix(sha256))
            let cached = try #require(redirect.headers[.cacheControl])
            #expect(cached.hasPrefix("private, max-age="))
            #expect((Int(cached.split(separator: "=").last ?? "") ?? 0) >= 14 * 60)
            // S3 serves the bytes to anyone holding the URL, as the original's type, ranges too.
            let fetched = try await Self.fetch(target, http: http)
            #expect(fetched.status == 200 && fetched.body == photo)
            #expect(fetched.headers.first(name: "content-type") == "image/jpeg")
            let ranged = try await Self.fetch(target, http: http, range: "bytes=10-19")
            #expect(ranged.status == 206 && ranged.body == photo[10..<20])
            // An altered URL is refused by S3: the other image's key with this signature, a longer life.
            let swapped = try #require(
                URL(string: target.absoluteString.replacingOccurrences(of: sha256, with: otherSHA)))
            let stretched = try #require(
                URL(
                    string: target.absoluteString.replacingOccurrences(
                        of: "X-Amz-Expires=1800", with: "X-Amz-Expires=9000")))
            #expect(stretched != target)
            for altered in [swapped, stretched] {
                let refused = try await Self.fetch(altered, http: http)
                #expect(
                    refused.status == 403
                        && String(decoding: refused.body, as: UTF8.self).contains("SignatureDoesNotMatch"))
            }
            // The same slot, the same URL: a browser's cache keeps what it loaded.
            #expect(
                try await server.get("/api/v1/images/\(sha256)/original").headers[.location] == target.absoluteString)
            // Revalidation is still answered by Iris.
            let revalidated = try await server.get(
                "/api/v1/images/\(sha256)/original", headers: [.ifNoneMatch: "\"\(sha256)\""])
            #expect(revalidated.status == .notModified)

            let thumbnail = try await server.get("/api/v1/images/\(sha256)/thumbnail?size=256")
            #expect(thumbnail.status == .temporaryRedirect)
            let thumbnailTarget = try #require(thumbnail.headers[.location].flatMap(URL.init(string:)))
            let thumbnailBytes = try await Self.fetch(thumbnailTarget, http: http)
            #expect(thumbnailBytes.status == 200 && thumbnailBytes.body.prefix(3) == Data([0xFF, 0xD8, 0xFF]))

            // No access, no URL: the caller hears what it would without S3.
            let stranger = server.acting(as: [:])
            let anonymous = try await stranger.get("/api/v1/images/\(sha256)/original")
            #expect(anonymous.status == .unauthorized && anonymous.headers[.location] == nil)
            // Pages may show images from the public address, and from nowhere else.
            let page = try await server.get("/projects/\(project)")
            let policy = try #require(page.headers[HTTPField.Name("Content-Security-Policy")!])
            #expect(policy.contains("img-src 'self' http://localhost:\(port) blob: data:"), "\(policy)")
        }
    }

    static func fetch(_ url: URL, http: HTTPClient, range: String? = nil) async throws -> (
        status: Int, headers: HTTPHeaders, body: Data
    ) {
        var request = HTTPClientRequest(url: url.absoluteString)
        if let range { request.headers.add(name: "range", value: range) }
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), response.headers, Data(body.readableBytesView))
    }
}
