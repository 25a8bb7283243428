public import AsyncHTTPClient
public import Foundation
import IrisCore
import NIOHTTP1

/// Blobs in an S3 bucket (AWS S3, MinIO, Garage, Ceph…), keyed as on disk under the
/// location's prefix, with recently read ones kept in a local `BlobCache`. A write is one PUT
/// (multipart for originals over the part size, aborted on failure) that only returns once
/// S3 has the whole object; what was written also goes into the cache, so the thumbnails and
/// analyses that follow an upload read it locally.
public struct S3BlobStore: BlobStore {
    public let client: S3Client
    public let cache: BlobCache
    public let scratch: ScratchSpace

    public init(client: S3Client, cache: BlobCache, scratch: ScratchSpace) {
        (self.client, self.cache, self.scratch) = (client, cache, scratch)
    }

    public func put(_ key: BlobKey, movingFileAt file: URL) async throws {
        let size = try Self.size(of: file)
        // An original is named by its SHA-256, taken while it was staged: not hashed again.
        let digest = try key.contentHash ?? BlobCache.sha256(of: file)
        try await Self.reaching {
            if size > client.location.partSize {
                try await client.putMultipart(key.path, file: file, size: size)
            } else {
                try await client.put(key.path, body: .file(file, offset: 0, length: size), payloadHash: digest)
            }
        }
        do {
            try await cache.adopt(file, as: key, sha256: digest)
        } catch {
            try? FileManager.default.removeItem(at: file)
        }
    }

    public func put(_ key: BlobKey, data: Data) async throws {
        let file = scratch.newFileURL()
        try data.write(to: file)
        do {
            try await put(key, movingFileAt: file)
        } catch {
            try? FileManager.default.removeItem(at: file)
            throw error
        }
    }

    /// From the cache when it holds a copy (it holds only what S3 took, so the thumbnail job
    /// after an upload asks S3 nothing about the thumbnail the upload made), else a HEAD.
    public func size(of key: BlobKey) async throws -> Int64? {
        if let cached = await cache.size(of: key) { return cached }
        return try await Self.reaching { try await client.head(key.path) }
    }

    /// Never: bytes must be fetched (`localFile(for:)`).
    public func localPath(for key: BlobKey) -> String? { nil }

    /// The cached copy, fetched first when there is none. An original's bytes must hash to
    /// its name; anything else is refused rather than used.
    public func localFile(for key: BlobKey) async throws -> String? {
        if let cached = await cache.file(for: key) { return cached }
        let file = scratch.newFileURL()
        do {
            let answer = try await client.send(.GET, key: key.path, accept: [200, 404], download: file)
            guard answer.status == 200 else {
                try? FileManager.default.removeItem(at: file)
                return nil
            }
            let digest = try BlobCache.sha256(of: file)
            if let expected = key.contentHash, expected != digest {
                try? FileManager.default.removeItem(at: file)
                throw BlobStoreUnavailable(
                    S3Failure(status: 200, code: "BadDigest", message: "the stored copy of \(key) is damaged"))
            }
            return try await cache.adopt(file, as: key, sha256: digest)
        } catch let failure as S3Failure {
            try? FileManager.default.removeItem(at: file)
            throw BlobStoreUnavailable(failure)
        }
    }

    public func data(for key: BlobKey) async throws -> Data? {
        guard let path = try await localFile(for: key) else { return nil }
        return FileManager.default.contents(atPath: path)
    }

    public func storedHashes(modifiedBefore date: Date) async throws -> Set<String> {
        var found: Set<String> = []
        for folder in ["originals/", "thumbnails/"] {
            for (key, modified, _) in try await Self.reaching({ try await client.list(under: folder) })
            where (modified ?? .distantFuture) < date {
                let name = (key as NSString).lastPathComponent
                let stem = name.split(separator: ".").first.map(String.init) ?? name
                if stem.count == 64, stem.allSatisfy(\.isHexDigit) { found.insert(stem) }
            }
        }
        return found
    }

    public func keys() async throws -> [(key: BlobKey, size: Int64)] {
        try await Self.reaching { try await client.list(under: "") }.filter { !$0.key.hasPrefix(".iris-probe-") }
            .map { (BlobKey(path: $0.key), $0.size) }.sorted { $0.key.path < $1.key.path }
    }

    /// Aborts multipart uploads begun before `date` (a process that died mid-upload leaves one).
    public func removeUnfinished(startedBefore date: Date) async throws -> Int {
        try await Self.reaching {
            let unfinished = try await client.unfinishedUploads(startedBefore: date)
            for (key, upload) in unfinished { try await client.abort(key, upload: upload) }
            return unfinished.count
        }
    }

    /// The SHA-256 of the bytes S3 holds under `key`, read from S3 itself (not the cache); nil
    /// when there is no such object. For checking a copy on the far side.
    public func storedDigest(of key: BlobKey) async throws -> String? {
        let file = scratch.newFileURL()
        defer { try? FileManager.default.removeItem(at: file) }
        let answer = try await Self.reaching {
            try await client.send(.GET, key: key.path, accept: [200, 404], download: file)
        }
        return answer.status == 200 ? try BlobCache.sha256(of: file) : nil
    }

    public func delete(_ key: BlobKey) async throws {
        try await Self.reaching { try await client.delete(key.path) }
        await cache.remove(key)
    }

    /// How long a presigned URL handed out is signed for, and the slots its signing time is
    /// rounded down to: every request in one slot gets the same URL (so the browser's cache
    /// keeps what it loaded), valid at least `directSlot` seconds after it is answered.
    static let directSlot = 15 * 60

    /// A presigned GET at `storage.s3.public_url` when one is set and S3 has the blob.
    public func directURL(for key: BlobKey, contentType: String) async throws -> DirectURL? {
        guard client.location.publicEndpoint != nil else { return nil }
        guard try await size(of: key) != nil else { return nil }
        let now = Date().timeIntervalSince1970
        let start = (now / Double(Self.directSlot)).rounded(.down) * Double(Self.directSlot)
        let validSeconds = Int(start + Double(2 * Self.directSlot) - now)
        let overrides = [
            ("response-content-type", contentType), ("response-cache-control", "private, max-age=31536000, immutable"),
        ]
        guard
            let url = client.presignedURL(
                key.path, seconds: 2 * Self.directSlot, date: Date(timeIntervalSince1970: start), query: overrides)
        else { return nil }
        return DirectURL(url: url, validSeconds: validSeconds)
    }

    /// The start-up check: the bucket answers, the credentials are accepted, and a probe
    /// object can be written, read back and deleted. The error names what is wrong.
    public func check() async throws {
        let place = "\(client.location.endpoint.absoluteString) bucket \(client.location.bucket)"
        do {
            _ = try await client.send(.HEAD, key: nil, accept: [200])
        } catch let failure as S3Failure {
            switch failure.status {
            case 404: throw BlobStoreUnavailable(message: "S3 storage: \(place) does not exist")
            case 403, 401:
                throw BlobStoreUnavailable(
                    message:
                        "S3 storage: \(place) refused the credentials (check storage.s3.access_key and secret_key)")
            case 301, 400:
                throw BlobStoreUnavailable(
                    message: "S3 storage: \(place) answered \(failure.status): check storage.s3.region and path_style")
            default: throw BlobStoreUnavailable(message: "S3 storage: \(place): \(failure.message)")
            }
        }
        let probe = BlobKey(path: ".iris-probe-\(UUID().uuidString.lowercased())")
        do {
            try await client.put(probe.path, body: .bytes(Data("iris".utf8)), payloadHash: nil)
            guard try await client.head(probe.path) == 4 else {
                throw S3Failure(status: 200, code: nil, message: "a probe object written was not there to read")
            }
            try await client.delete(probe.path)
        } catch let failure as S3Failure {
            throw BlobStoreUnavailable(message: "S3 storage: \(place) cannot be written to: \(failure.message)")
        }
    }

    /// Runs S3 requests; a failure is `BlobStoreUnavailable` (answered 503) for the caller.
    static func reaching<T>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let failure as S3Failure {
            throw BlobStoreUnavailable(failure)
        }
    }

    static func size(of file: URL) throws -> Int64 {
        (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.int64Value ?? 0
    }
}

/// The blob store cannot be reached or answered with a failure: the request that needed it
/// is answered 503 (nothing it started is committed), and a later one may succeed.
public struct BlobStoreUnavailable: Error, CustomStringConvertible, Sendable {
    public let message: String

    public init(message: String) { self.message = message }
    init(_ failure: S3Failure) { message = "the S3 storage is not available: \(failure.message)" }

    public var description: String { message }
}

extension BlobKey {
    /// The SHA-256 an original's bytes have (its name); nil for other blobs.
    public var contentHash: String? {
        guard path.hasPrefix("originals/") else { return nil }
        let name = (path as NSString).lastPathComponent
        return name.count == 64 ? name : nil
    }
}
