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
        do {
            if size > client.location.partSize {
                try await client.putMultipart(key.path, file: file, size: size)
            } else {
                try await client.put(key.path, body: .file(file, offset: 0, length: size), payloadHash: digest)
            }
        } catch let failure as S3Failure {
            throw BlobStoreUnavailable(failure)
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

    public func size(of key: BlobKey) async throws -> Int64? {
        do {
            return try await client.head(key.path)
        } catch let failure as S3Failure {
            throw BlobStoreUnavailable(failure)
        }
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
        do {
            for folder in ["originals/", "thumbnails/"] {
                for (key, modified, _) in try await client.list(under: folder) where (modified ?? .distantFuture) < date
                {
                    let name = (key as NSString).lastPathComponent
                    let stem = name.split(separator: ".").first.map(String.init) ?? name
                    if stem.count == 64, stem.allSatisfy(\.isHexDigit) { found.insert(stem) }
                }
            }
        } catch let failure as S3Failure {
            throw BlobStoreUnavailable(failure)
        }
        return found
    }

    public func keys() async throws -> [(key: BlobKey, size: Int64)] {
        do {
            return try await client.list(under: "").filter { !$0.key.hasPrefix(".iris-probe-") }
                .map { (BlobKey(path: $0.key), $0.size) }.sorted { $0.key.path < $1.key.path }
        } catch let failure as S3Failure {
            throw BlobStoreUnavailable(failure)
        }
    }

    /// Aborts multipart uploads begun before `date` (a process that died mid-upload leaves one).
    public func removeUnfinished(startedBefore date: Date) async throws -> Int {
        do {
            let unfinished = try await client.unfinishedUploads(startedBefore: date)
            for (key, upload) in unfinished { try await client.abort(fullKey: key, upload: upload) }
            return unfinished.count
        } catch let failure as S3Failure {
            throw BlobStoreUnavailable(failure)
        }
    }

    /// The SHA-256 of the bytes S3 holds under `key`, read from S3 itself (not the cache); nil
    /// when there is no such object. For checking a copy on the far side.
    public func storedDigest(of key: BlobKey) async throws -> String? {
        let file = scratch.newFileURL()
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            let answer = try await client.send(.GET, key: key.path, accept: [200, 404], download: file)
            return answer.status == 200 ? try BlobCache.sha256(of: file) : nil
        } catch let failure as S3Failure {
            throw BlobStoreUnavailable(failure)
        }
    }

    public func delete(_ key: BlobKey) async throws {
        do {
            try await client.delete(key.path)
        } catch let failure as S3Failure {
            throw BlobStoreUnavailable(failure)
        }
        await cache.remove(key)
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
    var contentHash: String? {
        guard path.hasPrefix("originals/") else { return nil }
        let name = (path as NSString).lastPathComponent
        return name.count == 64 ? name : nil
    }
}
