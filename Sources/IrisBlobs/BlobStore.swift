public import Foundation

/// The name of a stored object. Originals are content-addressed by SHA-256;
/// derivatives are named by what they derive from.
public struct BlobKey: Sendable, Hashable, CustomStringConvertible {
    /// Slash-separated path inside the store, e.g. `originals/ab/cd/abcd…`.
    public let path: String

    public init(path: String) { self.path = path }

    /// The original bytes of an image, sharded by the first two byte pairs of its hash
    /// so no directory holds more than 65,536 shards of files.
    public static func original(_ sha256: String) -> BlobKey {
        BlobKey(path: "originals/\(shard(sha256))/\(sha256)")
    }

    /// A JPEG thumbnail no larger than `size` on its longest side.
    public static func thumbnail(_ sha256: String, size: Int) -> BlobKey {
        BlobKey(path: "thumbnails/\(size)/\(shard(sha256))/\(sha256).jpg")
    }

    /// A repair's mask (one band, 255 = repaired), content-addressed by its SHA-256.
    public static func mask(_ sha256: String) -> BlobKey {
        BlobKey(path: "masks/\(shard(sha256))/\(sha256).png")
    }

    private static func shard(_ sha256: String) -> String {
        let characters = Array(sha256)
        guard characters.count >= 4 else { return "00/00" }
        return "\(characters[0])\(characters[1])/\(characters[2])\(characters[3])"
    }

    public var description: String { path }
}

/// Where blobs live: a folder on disk (the default) or an S3 bucket.
///
/// Writes are all-or-nothing: after `put` returns, the blob is durable and complete;
/// a crash before that leaves at most a temporary file that `ScratchSpace` cleans.
public protocol BlobStore: Sendable {
    /// Moves a finished local file into the store under `key`. When the key already
    /// exists the file is discarded: same key, same bytes.
    func put(_ key: BlobKey, movingFileAt file: URL) async throws
    /// Stores bytes under `key`, replacing nothing that exists.
    func put(_ key: BlobKey, data: Data) async throws
    /// The blob's size in bytes, or nil when it does not exist.
    func size(of key: BlobKey) async throws -> Int64?
    /// A path on the local file system when the store keeps its blobs in one (the disk store).
    func localPath(for key: BlobKey) -> String?
    /// A local file holding the blob's bytes, fetched into the local cache first by a store
    /// that is not on disk; nil when the blob does not exist (the disk store answers its path
    /// either way, and reading it then fails).
    func localFile(for key: BlobKey) async throws -> String?
    /// The whole blob, for small objects such as thumbnails.
    func data(for key: BlobKey) async throws -> Data?
    /// The hashes of images with an original or a thumbnail last written before `date`
    /// (for the orphan sweep).
    func storedHashes(modifiedBefore date: Date) async throws -> Set<String>
    /// Removes the blob; removing a missing blob is not an error.
    func delete(_ key: BlobKey) async throws
    /// Every blob with its size (for moving a deployment and checking it), in key order.
    func keys() async throws -> [(key: BlobKey, size: Int64)]
    /// Removes what writes started before `date` left unfinished (S3: multipart uploads of a
    /// process that died); answers how many.
    func removeUnfinished(startedBefore date: Date) async throws -> Int
    /// Where a browser may fetch the blob itself, served as `contentType`: a presigned S3 URL
    /// at `storage.s3.public_url`. nil when the bytes are to be served by Iris (the disk
    /// store, S3 without a public address, or no such blob).
    func directURL(for key: BlobKey, contentType: String) async throws -> DirectURL?
}

/// A URL that serves a blob without Iris, and how long an answer naming it may be cached.
public struct DirectURL: Sendable {
    public var url: URL
    /// Seconds the URL stays valid from now, at least.
    public var validSeconds: Int

    public init(url: URL, validSeconds: Int) { (self.url, self.validSeconds) = (url, validSeconds) }
}

extension BlobStore {
    public func localFile(for key: BlobKey) async throws -> String? { localPath(for: key) }
    /// The disk store writes through scratch space, which `ScratchSpace` cleans.
    public func removeUnfinished(startedBefore date: Date) async throws -> Int { 0 }
    public func directURL(for key: BlobKey, contentType: String) async throws -> DirectURL? { nil }
}
