import Crypto
public import Foundation
import IrisCore

/// Recently read blobs on local disk, for a store that is not (S3): at most `capacity` bytes,
/// the least recently used evicted first. Each file's SHA-256 is kept beside it and checked
/// when it is handed out, so a damaged copy is fetched again rather than used. A copy this
/// process wrote or checked itself, whose size and modification time have not changed since,
/// is not hashed again (reading a 4 MP original for its 1024 px thumbnail would otherwise hash
/// it a second time); every copy found on disk at start is checked at its first use.
public actor BlobCache {
    public let root: URL
    public let capacity: Int64
    private var entries: [String: (size: Int64, used: Date)]?
    /// The size and modification time of each copy as last hashed or written here.
    private var checked: [String: (size: Int64, modified: Date)] = [:]
    private var total: Int64 = 0

    public init(root: URL, capacity: Int64) throws {
        self.root = root
        self.capacity = capacity
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    func url(for key: BlobKey) -> URL { root.appendingPathComponent(key.path) }
    func digestURL(for key: BlobKey) -> URL { root.appendingPathComponent(key.path + ".sha256") }

    /// The cached copy's path when there is one whose bytes still match their digest; a copy
    /// that does not is removed.
    public func file(for key: BlobKey) -> String? {
        let file = url(for: key)
        guard let stamp = Self.stamp(file) else { return nil }
        if let known = checked[key.path], known == stamp {
            // Written or checked by this process, unchanged since.
        } else {
            guard let recorded = try? String(contentsOf: digestURL(for: key), encoding: .utf8),
                let actual = try? Self.sha256(of: file), actual == recorded
            else {
                remove(key)
                return nil
            }
            checked[key.path] = stamp
        }
        loadIndex()
        entries?[key.path]?.used = Date()
        return file.path
    }

    /// The size of the copy here, if there is one (unchecked: for knowing that S3 took the
    /// blob, not for reading it).
    public func size(of key: BlobKey) -> Int64? { Self.stamp(url(for: key))?.size }

    /// Takes a finished file into the cache under `key` (moving it), with its SHA-256, and
    /// evicts what is over the capacity. Answers the cached path.
    @discardableResult
    public func adopt(_ file: URL, as key: BlobKey, sha256: String) throws -> String {
        loadIndex()
        let target = url(for: key)
        let manager = FileManager.default
        try manager.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? manager.removeItem(at: target)
        try manager.moveItem(at: file, to: target)
        try Data(sha256.utf8).write(to: digestURL(for: key), options: .atomic)
        checked[key.path] = Self.stamp(target)
        let size = (try? manager.attributesOfItem(atPath: target.path)[.size] as? NSNumber)?.int64Value ?? 0
        if let old = entries?[key.path] { total -= old.size }
        entries?[key.path] = (size, Date())
        total += size
        evict(keeping: key.path)
        return target.path
    }

    public func remove(_ key: BlobKey) {
        loadIndex()
        try? FileManager.default.removeItem(at: url(for: key))
        try? FileManager.default.removeItem(at: digestURL(for: key))
        if let old = entries?.removeValue(forKey: key.path) { total -= old.size }
        checked[key.path] = nil
    }

    /// A file's size and modification time, or nil when there is no such file.
    static func stamp(_ file: URL) -> (size: Int64, modified: Date)? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file.path),
            let size = (attributes[.size] as? NSNumber)?.int64Value,
            let modified = attributes[.modificationDate] as? Date
        else { return nil }
        return (size, modified)
    }

    /// Bytes held now.
    public func size() -> Int64 {
        loadIndex()
        return total
    }

    /// Least recently used first, never `keeping` (just added) nor a file handed out in the
    /// last 30 seconds (a reader may be opening it).
    private func evict(keeping: String) {
        guard total > capacity, let entries else { return }
        let recent = Date().addingTimeInterval(-30)
        for (path, entry) in entries.sorted(by: { $0.value.used < $1.value.used }) {
            guard total > capacity else { break }
            guard path != keeping, entry.used < recent else { continue }
            remove(BlobKey(path: path))
        }
    }

    /// What is on disk, read once (a restart keeps the cache; its order starts from the files' times).
    private func loadIndex() {
        guard entries == nil else { return }
        var found: [String: (size: Int64, used: Date)] = [:]
        var sum: Int64 = 0
        let prefix = root.standardizedFileURL.path + "/"
        if let walker = FileManager.default.enumerator(
            at: root, includingPropertiesForKeys: [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey])
        {
            for case let file as URL in walker where !file.path.hasSuffix(".sha256") {
                let values = try? file.resourceValues(forKeys: [
                    .fileSizeKey, .contentModificationDateKey, .isRegularFileKey,
                ])
                guard values?.isRegularFile == true else { continue }
                let path = String(file.standardizedFileURL.path.dropFirst(prefix.count))
                let size = Int64(values?.fileSize ?? 0)
                found[path] = (size, values?.contentModificationDate ?? .distantPast)
                sum += size
            }
        }
        entries = found
        total = sum
    }

    /// The SHA-256 of a file, read in 1 MiB pieces.
    public static func sha256(of file: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hasher.update(data: data) }
        return hasher.finalize().lowercaseHex
    }
}
