import AsyncHTTPClient
import Foundation
import IrisBlobs
import IrisCore
public import IrisServices
import IrisStore
import Logging

/// `iris storage migrate | verify`: moving a deployment's blobs between the data folder and
/// an S3 bucket, and checking that rows and blobs match.
public enum IrisStorageCommands {
    /// Copies every blob of the current store to the other (`to`), checks each copy's SHA-256
    /// on the far side, and records what is done in a journal so a stopped run resumes where
    /// it was. Only when every blob is copied and checked is `storage.backend` switched (in
    /// the config file when there is one; else the command says what to set).
    public static func migrate(_ settings: IrisSettings, to name: String, configPath: String?) async throws {
        guard let target = StorageSettings.Backend(rawValue: name) else {
            throw CommandFailure(message: "--to must be disk or s3, not \(name)")
        }
        guard target != settings.storage.backend else {
            throw CommandFailure(message: "the blobs are already on \(name) (storage.backend is \(name))")
        }
        if target == .s3, settings.storage.s3 == nil {
            throw CommandFailure(
                message:
                    "--to s3 needs the bucket: set storage.s3.endpoint, storage.s3.bucket and the credentials first")
        }
        let logger = settings.makeLogger()
        let scratch = try ScratchSpace(directory: settings.scratchDirectory)
        var targetSettings = settings
        targetSettings.storage.backend = target
        var clients: [HTTPClient] = []
        do {
            let (source, sourceClient) = try await opened(settings, scratch: scratch, logger: logger)
            clients += [sourceClient].compactMap { $0 }
            let (destination, destinationClient) = try await opened(targetSettings, scratch: scratch, logger: logger)
            clients += [destinationClient].compactMap { $0 }
            let journalURL = settings.dataDirectory.appendingPathComponent("storage-migrate-to-\(name).journal")
            let (copied, already, bytes, total) = try await copy(
                from: source, to: destination, journal: journalURL, scratch: scratch)
            for client in clients { try? await client.shutdown() }
            clients = []
            print(
                "\(total) blobs: \(copied) copied and checked (\(ByteCountFormatter.string(fromByteCount: bytes, countStyle: .file))), \(already) already there."
            )
            try? FileManager.default.removeItem(at: journalURL)
            print(try switchBackend(to: name, configPath: configPath))
        } catch {
            for client in clients { try? await client.shutdown() }
            if let unavailable = error as? BlobStoreUnavailable { throw CommandFailure(message: unavailable.message) }
            if let message = CommandFailure.message(for: error) { throw CommandFailure(message: message) }
            throw error
        }
    }

    static func opened(_ settings: IrisSettings, scratch: ScratchSpace, logger: Logger) async throws -> (
        any BlobStore, HTTPClient?
    ) {
        do {
            return try await IrisDependencies.openBlobs(settings, scratch: scratch, logger: logger)
        } catch let error as ConfigurationError {
            throw CommandFailure(message: error.description)
        }
    }

    /// The copy itself: every blob not yet in the journal is copied unless the far side already
    /// holds the same bytes, then checked there and journalled.
    static func copy(
        from source: any BlobStore, to destination: any BlobStore, journal journalURL: URL, scratch: ScratchSpace
    )
        async throws -> (copied: Int, already: Int, bytes: Int64, total: Int)
    {
        let journalled = Set(
            ((try? String(contentsOf: journalURL, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init))
        if !FileManager.default.fileExists(atPath: journalURL.path) {
            FileManager.default.createFile(atPath: journalURL.path, contents: nil)
        }
        let journal = try FileHandle(forWritingTo: journalURL)
        defer { try? journal.close() }
        try journal.seekToEnd()
        let keys = try await source.keys()
        let bar = ProgressBar()
        let total = keys.reduce(Int64(0)) { $0 + $1.size }
        var (copied, already, bytes, seen) = (0, 0, Int64(0), Int64(0))
        for (index, (key, size)) in keys.enumerated() {
            seen += size
            if journalled.contains(key.path) {
                already += 1
                bar.copied(files: index + 1, of: keys.count, bytes: seen, of: total)
                continue
            }
            guard let path = try await source.localFile(for: key) else {
                throw CommandFailure(message: "\(key) is listed but cannot be read from the current store")
            }
            // An original is named by its hash: a damaged source then fails the check below.
            let digest = try key.contentHash ?? BlobCache.sha256(of: URL(fileURLWithPath: path))
            if try await destination.size(of: key) == size, try await farDigest(destination, key) == digest {
                already += 1
            } else {
                let file = scratch.newFileURL()
                try FileManager.default.copyItem(atPath: path, toPath: file.path)
                try await destination.put(key, movingFileAt: file)
                guard try await farDigest(destination, key) == digest else {
                    throw CommandFailure(
                        message: "the copy of \(key) does not hash like the original; stopped (run again to retry)")
                }
                copied += 1
                bytes += size
            }
            try journal.write(contentsOf: Data((key.path + "\n").utf8))
            bar.copied(files: index + 1, of: keys.count, bytes: seen, of: total)
        }
        bar.finish()
        return (copied, already, bytes, keys.count)
    }

    /// The SHA-256 of what the store holds under `key`, read back from the store itself.
    static func farDigest(_ store: any BlobStore, _ key: BlobKey) async throws -> String? {
        if let s3 = store as? S3BlobStore { return try await s3.storedDigest(of: key) }
        guard let path = try await store.localFile(for: key) else { return nil }
        return try BlobCache.sha256(of: URL(fileURLWithPath: path))
    }

    /// Sets `storage.backend` in the config file, or says what to set.
    static func switchBackend(to name: String, configPath: String?) throws -> String {
        guard let configPath, !configPath.isEmpty else {
            return
                "Now start iris serve and iris worker with storage.backend \(name) (IRIS_STORAGE_BACKEND=\(name), or in the config file)."
        }
        let url = URL(fileURLWithPath: configPath)
        var object = (try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]) ?? [:]
        if object["storage.backend"] != nil {
            object["storage.backend"] = name
        } else {
            var storage = object["storage"] as? [String: Any] ?? [:]
            storage["backend"] = name
            object["storage"] = storage
        }
        let data = try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        // The file may hold the secret: it keeps its permissions.
        let permissions = try FileManager.default.attributesOfItem(atPath: configPath)[.posixPermissions]
        try data.write(to: url, options: .atomic)
        if let permissions {
            try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: configPath)
        }
        return "storage.backend is now \(name) in \(configPath); restart iris serve and iris worker."
    }

    /// Checks that every image row has its original, every repair its mask, and every blob a
    /// row (orphans, which the cleanup job removes). Answers false when a row lacks its blob.
    public static func verify(_ settings: IrisSettings) async throws -> Bool {
        let logger = settings.makeLogger()
        let dependencies = try await IrisDependencies.open(settings, logger: logger)
        do {
            let keys = try await dependencies.blobs.keys()
            let present = Set(keys.map(\.key.path))
            let images = try await dependencies.store.images.allSHA256()
            let masks = try await dependencies.store.repairs.allMasks()
            let missing = images.filter { !present.contains(BlobKey.original($0).path) }
            let missingMasks = masks.sorted().filter { !present.contains(BlobKey.mask($0).path) }
            let known = Set(images)
            var orphans: [String] = []
            for (key, _) in keys {
                let stem = (key.path as NSString).lastPathComponent.split(separator: ".").first.map(String.init) ?? ""
                if key.path.hasPrefix("originals/") || key.path.hasPrefix("thumbnails/") {
                    if !known.contains(stem) { orphans.append(key.path) }
                } else if key.path.hasPrefix("masks/") {
                    if !masks.contains(stem) { orphans.append(key.path) }
                }
            }
            await dependencies.close()
            print(
                "\(images.count) images, \(masks.count) masks, \(keys.count) blobs in \(settings.storage.backend.rawValue) storage."
            )
            for sha256 in missing { print("missing: the original of image \(sha256)") }
            for sha256 in missingMasks { print("missing: repair mask \(sha256)") }
            for path in orphans.prefix(50) { print("orphan: \(path)") }
            if orphans.count > 50 { print("… and \(orphans.count - 50) more orphans") }
            if !orphans.isEmpty {
                print("\(orphans.count) orphans: the cleanup job (maintenance.cleanup) removes them.")
            }
            let ok = missing.isEmpty && missingMasks.isEmpty
            print(ok ? "Every row has its blob." : "\(missing.count + missingMasks.count) rows have no blob.")
            return ok
        } catch {
            await dependencies.close()
            if let unavailable = error as? BlobStoreUnavailable { throw CommandFailure(message: unavailable.message) }
            throw error
        }
    }
}
