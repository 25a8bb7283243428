import AsyncHTTPClient
import Crypto
import Foundation
import IrisCore
import IrisTesting
import NIOCore
import NIOHTTP1
import Testing

@testable import IrisBlobs

/// What every blob store must do, run against the disk store and a real S3 API server
/// (moto, authentication enforced): the same bytes back, stored once, found by the orphan
/// sweep, gone when deleted; and for S3 the parts that only it has.
@Suite("Blob stores: disk and S3")
struct BlobStoreContractTests {
    static func staged(_ bytes: Data, in scratch: ScratchSpace) throws -> (URL, String) {
        let staged = try StagedFile(in: scratch, limit: 1 << 30)
        try staged.write(bytes)
        return (staged.url, try staged.finish())
    }

    static func random(_ count: Int, seed: UInt64) -> Data {
        var state = seed
        return Data(
            (0..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 33)
            })
    }

    @Test("an original is stored once, read back byte for byte, swept and deleted", arguments: TestStorage.enabled)
    func original(storage: TestStorage) async throws {
        try await TemporaryFolder.with { folder in
            try await storage.with(in: folder) { store, scratch in
                // setup: the same bytes staged twice
                let bytes = Self.random(300_000, seed: 1)
                for _ in 0..<2 {
                    let (file, sha256) = try Self.staged(bytes, in: scratch)
                    try await store.put(.original(sha256), movingFileAt: file)
                }
                let sha256 = SHA256.hash(data: bytes).lowercaseHex
                // check: one blob, the same bytes, nothing left in scratch
                #expect(try await store.size(of: .original(sha256)) == Int64(bytes.count))
                let path = try #require(try await store.localFile(for: .original(sha256)))
                #expect(FileManager.default.contents(atPath: path) == bytes)
                #expect(try await store.data(for: .original(sha256)) == bytes)
                #expect(scratch.count() == 0)
                // The sweep sees it as written before now, not before an hour ago.
                #expect(try await store.storedHashes(modifiedBefore: Date().addingTimeInterval(60)).contains(sha256))
                #expect(try await store.storedHashes(modifiedBefore: Date().addingTimeInterval(-3600)).isEmpty)
                // Deleted: gone everywhere; deleting again is fine.
                try await store.delete(.original(sha256))
                #expect(try await store.size(of: .original(sha256)) == nil)
                #expect(try await store.localFile(for: .original(sha256)) == nil)
                #expect(try await store.data(for: .original(sha256)) == nil)
                try await store.delete(.original(sha256))
                // A thumbnail from bytes.
                let thumbnail = Data("not really a jpeg".utf8)
                try await store.put(.thumbnail(sha256, size: 256), data: thumbnail)
                #expect(try await store.data(for: .thumbnail(sha256, size: 256)) == thumbnail)
                #expect(try await store.data(for: .thumbnail(sha256, size: 512)) == nil)
            }
        }
    }

    @Test("a large original goes up in parts and comes back whole", arguments: TestStorage.enabled)
    func large(storage: TestStorage) async throws {
        try await TemporaryFolder.with { folder in
            try await storage.with(in: folder, partSize: 5 << 20) { store, scratch in
                let bytes = Self.random(12 << 20, seed: 2)  // three parts of 5, 5 and 2 MiB
                let (file, sha256) = try Self.staged(bytes, in: scratch)
                try await store.put(.original(sha256), movingFileAt: file)
                #expect(try await store.size(of: .original(sha256)) == Int64(bytes.count))
                if let s3 = store as? S3BlobStore {
                    // Read from S3 itself, not the copy the upload left in the cache.
                    await s3.cache.remove(.original(sha256))
                }
                let path = try #require(try await store.localFile(for: .original(sha256)))
                #expect(try BlobCache.sha256(of: URL(fileURLWithPath: path)) == sha256)
            }
        }
    }

    // Presigned URLs are checked against AWS's published example (SigV4Tests) only: moto with
    // authentication enforced cannot read query-string signatures (it answers 500).
    @Test(
        "S3: a damaged cached copy is fetched again",
        .enabled(if: TestStorage.enabled.contains(.s3), "IRIS_TEST_S3_URL is not set"))
    func s3Cache() async throws {
        try await TemporaryFolder.with { folder in
            try await TestStorage.s3.with(in: folder) { store, scratch in
                let bytes = Self.random(50_000, seed: 3)
                let (file, sha256) = try Self.staged(bytes, in: scratch)
                try await store.put(.original(sha256), movingFileAt: file)
                let cached = try #require(try await store.localFile(for: .original(sha256)))
                try Data("damaged".utf8).write(to: URL(fileURLWithPath: cached))
                let again = try #require(try await store.localFile(for: .original(sha256)))
                #expect(FileManager.default.contents(atPath: again) == bytes)

            }
        }
    }

    @Test(
        "S3: a multipart upload a killed process left behind is aborted by the cleanup, its parts gone",
        .enabled(if: TestStorage.enabled.contains(.s3), "IRIS_TEST_S3_URL is not set"))
    func unfinishedUploads() async throws {
        try await TemporaryFolder.with { folder in
            try await TestStorage.s3.with(in: folder) { store, _ in
                let s3 = try #require(store as? S3BlobStore)
                // setup: what a process killed mid-upload leaves: an upload begun, one part sent
                let key = "originals/ab/cd/" + String(repeating: "ab", count: 32)
                let created = try await s3.client.send(.POST, key: key, query: [("uploads", "")])
                let upload = try #require(
                    XMLFields.first("UploadId", in: String(decoding: created.body, as: UTF8.self)))
                _ = try await s3.client.send(
                    .PUT, key: key, query: [("partNumber", "1"), ("uploadId", upload)],
                    body: .bytes(Self.random(5 << 20, seed: 4)))
                #expect(try await s3.client.unfinishedUploads(startedBefore: Date().addingTimeInterval(60)).count == 1)
                // act / check (moto dates every upload 2010-11-10, so a cutoff before it cannot be tested here)
                #expect(try await store.removeUnfinished(startedBefore: Date().addingTimeInterval(60)) == 1)
                #expect(try await s3.client.unfinishedUploads(startedBefore: Date().addingTimeInterval(60)).isEmpty)
                #expect(try await store.size(of: BlobKey(path: key)) == nil)
            }
        }
    }

    @Test(
        "S3: the start-up check names a wrong secret, a missing bucket and an unreachable server",
        .enabled(if: TestStorage.enabled.contains(.s3), "IRIS_TEST_S3_URL is not set"))
    func s3Check() async throws {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        func failure(_ location: S3Location) async throws -> String {
            var location = location
            location.timeout = 5
            var client = S3Client(location: location, http: http)
            client.attempts = 1
            let store = S3BlobStore(
                client: client, cache: try BlobCache(root: FileManager.default.temporaryDirectory, capacity: 1 << 20),
                scratch: try ScratchSpace(
                    directory: FileManager.default.temporaryDirectory.appendingPathComponent("s3c")))
            do {
                try await store.check()
                return "accepted"
            } catch let error as BlobStoreUnavailable {
                return error.message
            }
        }
        #expect(try await failure(try TestStorage.location()) == "accepted")
        #expect(
            try await failure(try TestStorage.location(secret: "not-the-secret")).contains("refused the credentials"))
        var missing = try TestStorage.location()
        missing.bucket = "no-such-bucket"
        #expect(try await failure(missing).contains("does not exist"))
        var unreachable = try TestStorage.location()
        unreachable.endpoint = URL(string: "http://127.0.0.1:9")!
        let message = try await failure(unreachable)
        #expect(message.contains("cannot reach") || message.contains("no answer"), "\(message)")
        try await http.shutdown()
    }
}
