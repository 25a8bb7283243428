import Foundation
import IrisBlobs
import IrisTesting
import Testing

@Suite("Content-addressed disk blob store")
struct BlobStoreTests {
    @Test("a staged file is hashed while written, moved into a sharded path, and stored once")
    func putDedupes() async throws {
        try await TemporaryFolder.with { folder in
            // setup
            let scratch = try ScratchSpace(directory: folder.appendingPathComponent("tmp"))
            let store = try DiskBlobStore(root: folder.appendingPathComponent("blobs"), scratch: scratch)
            let bytes = Data("the same bytes".utf8)
            var hashes: [String] = []
            // act: stage and store the same bytes twice
            for _ in 0..<2 {
                let staged = try StagedFile(in: scratch, limit: 1 << 20)
                try staged.write(bytes)
                let sha256 = try staged.finish()
                hashes.append(sha256)
                try await store.put(.original(sha256), movingFileAt: staged.url)
            }
            // check
            #expect(hashes[0] == hashes[1])
            #expect(try await store.size(of: .original(hashes[0])) == Int64(bytes.count))
            let path = try #require(store.localPath(for: .original(hashes[0])))
            #expect(path.hasSuffix("originals/\(hashes[0].prefix(2))/\(hashes[0].dropFirst(2).prefix(2))/\(hashes[0])"))
            #expect(scratch.count() == 0)
        }
    }

    @Test("the hash is SHA-256 of the bytes")
    func knownDigest() async throws {
        try await TemporaryFolder.with { folder in
            let scratch = try ScratchSpace(directory: folder)
            let staged = try StagedFile(in: scratch, limit: 100)
            try staged.write(Data("abc".utf8))
            #expect(try staged.finish() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        }
    }

    @Test("writing past the limit stops with TooLarge")
    func limit() async throws {
        try await TemporaryFolder.with { folder in
            let staged = try StagedFile(in: try ScratchSpace(directory: folder), limit: 10)
            #expect(throws: StagedFile.TooLarge.self) { try staged.write(Data(count: 11)) }
            staged.discard()
            #expect(!FileManager.default.fileExists(atPath: staged.url.path))
        }
    }

    @Test("leftovers in scratch space are removed at start; deleting a missing blob is fine")
    func leftovers() async throws {
        try await TemporaryFolder.with { folder in
            let scratch = try ScratchSpace(directory: folder.appendingPathComponent("tmp"))
            for index in 0..<3 { try Data([UInt8(index)]).write(to: scratch.newFileURL()) }
            #expect(try scratch.removeLeftovers() == 3)
            #expect(scratch.count() == 0)
            let store = try DiskBlobStore(root: folder.appendingPathComponent("blobs"), scratch: scratch)
            try await store.delete(.original(String(repeating: "a", count: 64)))
        }
    }
}
