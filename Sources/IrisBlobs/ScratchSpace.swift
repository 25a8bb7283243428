public import Foundation

/// A folder for files being written: uploads streaming in, zips being unpacked,
/// blobs before their atomic rename. It lives on the same file system as the disk
/// store so a rename never copies. Whatever is here at start-up was left by a crash
/// and is removed.
public struct ScratchSpace: Sendable {
    public let directory: URL

    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// A fresh, unused file name in the scratch folder (the file is not created).
    public func newFileURL(suffix: String = ".part") -> URL {
        directory.appendingPathComponent(UUID().uuidString.lowercased() + suffix)
    }

    /// Removes everything in the folder; returns how many entries were removed.
    @discardableResult
    public func removeLeftovers() throws -> Int {
        let manager = FileManager.default
        let entries = try manager.contentsOfDirectory(atPath: directory.path)
        for entry in entries {
            try? manager.removeItem(at: directory.appendingPathComponent(entry))
        }
        return entries.count
    }

    /// Removes entries not modified since `date`: files a running process abandoned
    /// without a crash (a cancelled request that could not clean up). Answers how many.
    @discardableResult
    public func removeStale(modifiedBefore date: Date) -> Int {
        let manager = FileManager.default
        var removed = 0
        for entry in (try? manager.contentsOfDirectory(atPath: directory.path)) ?? [] {
            let url = directory.appendingPathComponent(entry)
            guard let modified = (try? manager.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date,
                modified < date
            else { continue }
            if (try? manager.removeItem(at: url)) != nil { removed += 1 }
        }
        return removed
    }

    /// How many files are in the folder now.
    public func count() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: directory.path).count) ?? 0
    }
}
