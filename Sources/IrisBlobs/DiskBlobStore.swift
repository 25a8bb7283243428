public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Blobs as files under one root folder, written crash-safely: each file is written
/// to the scratch folder, fsynced, renamed into place atomically, and the directory
/// fsynced so the rename itself survives a power cut.
public struct DiskBlobStore: BlobStore {
    public let root: URL
    public let scratch: ScratchSpace

    public init(root: URL, scratch: ScratchSpace) throws {
        self.root = root
        self.scratch = scratch
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    func url(for key: BlobKey) -> URL { root.appendingPathComponent(key.path) }

    public func localPath(for key: BlobKey) -> String? { url(for: key).path }

    public func localFile(for key: BlobKey) async throws -> String? {
        let path = url(for: key).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    public func storedHashes(modifiedBefore date: Date) async throws -> Set<String> {
        var found: Set<String> = []
        for folder in ["originals", "thumbnails"] {
            guard
                let walker = FileManager.default.enumerator(
                    at: root.appendingPathComponent(folder),
                    includingPropertiesForKeys: [.contentModificationDateKey, .isRegularFileKey],
                    options: [.skipsHiddenFiles])
            else { continue }
            for case let url as URL in walker {
                let values = try url.resourceValues(forKeys: [.contentModificationDateKey, .isRegularFileKey])
                guard values.isRegularFile == true, let modified = values.contentModificationDate, modified < date
                else { continue }
                let name = url.deletingPathExtension().lastPathComponent
                if name.count == 64, name.allSatisfy(\.isHexDigit) { found.insert(name) }
            }
        }
        return found
    }

    public func keys() async throws -> [(key: BlobKey, size: Int64)] {
        var found: [(key: BlobKey, size: Int64)] = []
        let prefix = root.standardizedFileURL.path + "/"
        guard
            let walker = FileManager.default.enumerator(
                at: root, includingPropertiesForKeys: [.fileSizeKey, .isRegularFileKey], options: [.skipsHiddenFiles])
        else { return [] }
        for case let url as URL in walker {
            let values = try url.resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey])
            guard values.isRegularFile == true else { continue }
            let path = String(url.standardizedFileURL.path.dropFirst(prefix.count))
            found.append((BlobKey(path: path), Int64(values.fileSize ?? 0)))
        }
        return found.sorted { $0.key.path < $1.key.path }
    }

    public func put(_ key: BlobKey, movingFileAt file: URL) async throws {
        let destination = url(for: key)
        let manager = FileManager.default
        if manager.fileExists(atPath: destination.path) {
            try? manager.removeItem(at: file)
            return
        }
        try manager.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Durability.fsync(path: file.path)
        guard rename(file.path, destination.path) == 0 else {
            throw CocoaError(
                .fileWriteUnknown,
                userInfo: [
                    NSFilePathErrorKey: destination.path, NSLocalizedDescriptionKey: String(cString: strerror(errno)),
                ])
        }
        try Durability.fsync(path: destination.deletingLastPathComponent().path)
    }

    public func put(_ key: BlobKey, data: Data) async throws {
        if FileManager.default.fileExists(atPath: url(for: key).path) { return }
        let temporary = scratch.newFileURL()
        try data.write(to: temporary)
        do {
            try await put(key, movingFileAt: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    public func size(of key: BlobKey) async throws -> Int64? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url(for: key).path) else { return nil }
        return (attributes[.size] as? NSNumber)?.int64Value
    }

    public func data(for key: BlobKey) async throws -> Data? {
        FileManager.default.contents(atPath: url(for: key).path)
    }

    public func delete(_ key: BlobKey) async throws {
        let target = url(for: key)
        do {
            try FileManager.default.removeItem(at: target)
        } catch CocoaError.fileNoSuchFile {
            return
        }
    }
}

enum Durability {
    /// Flushes a file or directory to stable storage.
    static func fsync(path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
        defer { close(descriptor) }
        guard Glibc.fsync(descriptor) == 0 else {
            throw CocoaError(
                .fileWriteUnknown,
                userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: String(cString: strerror(errno))])
        }
    }
}
