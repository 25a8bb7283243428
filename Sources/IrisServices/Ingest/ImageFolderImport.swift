public import Foundation
public import IrisBlobs
public import IrisCore
import IrisImaging
import IrisStore

/// One image file an import will ingest, with the labels its layout gives it.
public struct ImportItem: Sendable {
    public init(path: String, labels: [String] = [], declaredBytes: Int64 = 0) {
        self.path = path
        self.labels = labels
        self.declaredBytes = declaredBytes
    }

    /// Path inside the zip or folder, with `/` separators.
    public var path: String
    /// Its class folder's name, or what its manifest (COCO, Label Studio, CSV) gives it.
    public var labels: [String]
    public var declaredBytes: Int64
}

/// What an import did, file by file.
public struct ImportReport: Sendable, Codable, Equatable {
    public struct Skipped: Sendable, Codable, Equatable {
        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }

        public var path: String
        public var reason: String
    }

    public var imported = 0
    public var duplicates = 0
    public var skipped: [Skipped] = []
    /// How many files each label was given to.
    public var labels: [String: Int] = [:]
    /// The layout the archive was read as.
    public var format: ImportFormat?
    /// Labels the import added to the project's label set (`create_labels`).
    public var createdLabels: [String] = []
    /// The images imported or already there, in order (not part of the JSON report).
    public var sha256s: [String] = []
    /// What the import changed in the project, per image (not part of the JSON report): what
    /// `ImageFolderImport.undo` takes back when a caller refuses after importing.
    public var changes: [Change] = []

    public struct Change: Sendable, Equatable {
        public var sha256: String
        /// The photo joined the project with this import.
        public var joined: Bool
        /// The labels the import gave a photo the project already held.
        public var addedLabels: [String]
    }

    public enum CodingKeys: String, CodingKey { case imported, duplicates, skipped, labels, format, createdLabels }

    public init() {}

    /// What the plan decided beyond the files: the format, the labels made, and the files a
    /// manifest left out (skipped, after the others).
    mutating func finish(_ plan: ImportPlan) {
        format = plan.format
        createdLabels = plan.created
        skipped += plan.unlisted.map { Skipped(path: $0, reason: "not named in the \(plan.format.rawValue) manifest") }
    }
}

/// Imports a zip or a folder into a project: ImageFolder, YOLO, CSV, COCO or Label Studio
/// (`ImportLayouts`; the layouts an export writes).
///
/// The whole archive is checked before anything is stored: unsafe paths (zip slip),
/// too many entries, too many bytes, or a compression ratio no image reaches (zip bomb), a
/// manifest that cannot be read or names a file the archive lacks, labels outside the
/// project's label set refuse the import and leave nothing behind. Then each file is streamed
/// into scratch space and ingested; files that are not acceptable images are skipped and reported.
public struct ImageFolderImport: Sendable {
    public let library: ImageLibrary
    public let scratch: ScratchSpace
    public let limits: IngestLimits

    public init(library: ImageLibrary, scratch: ScratchSpace, limits: IngestLimits) {
        self.library = library
        self.scratch = scratch
        self.limits = limits
    }

    public typealias Progress = @Sendable (_ done: Int, _ total: Int, _ report: ImportReport) -> Void

    // MARK: - Zip

    /// Imports every image of a zip. `format` nil reads the layout from the zip's contents;
    /// `label` gives all images one label instead of their layout's (a learner's new class);
    /// `createLabels` adds labels the project's label set lacks instead of refusing them.
    ///
    /// The archive is checked whole before the first image is stored: its central directory
    /// (paths, kinds, sizes, ratios), its manifest and the labels it gives, then every entry
    /// read through once (inflated within its declared size, CRC-32 checked, methods Iris
    /// cannot read refused). Any failure refuses the import and nothing is stored; only then
    /// are the entries copied out and ingested.
    public func importZip(
        at url: URL, into project: Project, format: ImportFormat? = nil, labelFromFolders: Bool = true,
        label: String? = nil, createLabels: Bool = false, progress: Progress? = nil
    ) async throws -> ImportReport {
        let archive: ZipArchive
        do {
            archive = try ZipArchive(url: url, maxEntries: limits.maxZipEntries)
        } catch let failure as ZipArchive.Failure {
            throw Self.refusal(failure)
        }
        var entries: [String: ZipArchive.Entry] = [:]
        var paths: [String] = []
        var total: Int64 = 0
        for entry in archive.entries {
            let path = try Self.safePath(entry.path)
            guard entry.kind == .file else { continue }
            let size = Int64(clamping: entry.uncompressedSize)
            let packed = max(Int64(clamping: entry.compressedSize), 1)
            total += size
            guard total <= limits.maxZipTotalBytes else {
                throw Self.tooLarge("the zip expands to more than \(limits.maxZipTotalBytes) bytes")
            }
            guard size <= limits.maxUploadBytes else {
                throw Self.tooLarge(
                    "\(path) expands to \(size) bytes; one file may be at most \(limits.maxUploadBytes)")
            }
            guard size / packed <= limits.maxZipRatio else {
                throw Self.tooLarge(
                    "\(path) is compressed \(size / packed):1; more than \(limits.maxZipRatio):1 is refused as a zip bomb"
                )
            }
            if Self.isIgnorable(path) { continue }
            if entries[path] == nil { paths.append(path) }
            entries[path] = entry
        }
        let (plan, project) = try await prepare(
            paths, format: format, labelFromFolders: labelFromFolders, label: label, createLabels: createLabels,
            project: project, sizes: { entries[$0].map { Int64(clamping: $0.uncompressedSize) } ?? 0 }
        ) { path in
            var data = Data()
            if let entry = entries[path] {
                try Self.reading { try archive.read(entry) { data.append(contentsOf: $0) } }
            }
            return data
        } readThrough: { items in
            // Every entry read through before anything is stored, so a bad one late in the zip
            // cannot leave the earlier ones imported.
            for item in items {
                guard let entry = entries[item.path] else { continue }
                try Self.reading { try archive.read(entry) { _ in } }
            }
        }
        var report = try await run(plan.items, into: project, progress: progress) { item, staged in
            guard let entry = entries[item.path] else { return }
            try Self.reading { try archive.read(entry) { try staged.write($0) } }
        }
        report.finish(plan)
        return report
    }

    /// Reads the layout, maps its labels onto the project's label set, checks the files, and
    /// only then adds labels the import may create: every refusal comes before the first write.
    private func prepare(
        _ paths: [String], format: ImportFormat?, labelFromFolders: Bool, label: String?, createLabels: Bool,
        project: Project, sizes: (String) -> Int64, read: (String) throws -> Data,
        readThrough: ([ImportItem]) throws -> Void
    ) async throws -> (ImportPlan, Project) {
        var plan = try ImportLayouts.plan(
            format: format, files: paths, labelFromFolders: labelFromFolders && label == nil
        ) { path in
            guard sizes(path) <= limits.maxUploadBytes else {
                throw Refusal.tooLarge("\(path) is over the \(limits.maxUploadBytes)-byte limit", field: "file")
            }
            return try read(path)
        }
        for index in plan.items.indices {
            plan.items[index].declaredBytes = sizes(plan.items[index].path)
            if let label { plan.items[index].labels = [label] }
        }
        let (mapped, created) = try ImportLayouts.mapLabels(plan.items, onto: project, createLabels: createLabels)
        plan.items = mapped
        try readThrough(plan.items)
        var project = project
        if !created.isEmpty && library.keep {
            // Read again just before writing: a label set edited meanwhile keeps its edit.
            let current = try await library.store.projects.require(id: project.id)
            let names = (current.labelSet ?? []) + created.filter { !(current.labelSet ?? []).contains($0) }
            project = try await library.store.projects.update(id: project.id, ProjectPatch(labelSet: .some(names)))
        } else if !created.isEmpty {
            // Demo mode keeps nothing: the labels hold for this import only.
            project.labelSet = (project.labelSet ?? []) + created
        }
        plan.created = created
        return (plan, project)
    }

    /// Runs `body`, turning a zip failure into the problem the caller sees.
    private static func reading(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as ZipArchive.Failure {
            throw refusal(failure)
        }
    }

    public static func tooLarge(_ detail: String) -> Refusal {
        Refusal.tooLarge(detail, reason: "zip-bomb", field: "file")
    }

    /// A zip that cannot be read is the client's: 413 for sizes over the limits, 422 for
    /// damage or what Iris cannot decode; either way nothing was imported.
    public static func refusal(_ failure: ZipArchive.Failure) -> Refusal {
        switch failure {
        case .tooManyEntries, .inflatesPastDeclaredSize:
            return tooLarge("\(failure); nothing was imported")
        case .notAZip:
            return Refusal.unprocessable("invalid-zip", "the file is not a readable zip archive", field: "file")
        case .damaged, .multiDisk, .corruptEntry, .checksumMismatch, .tooSlow:
            return Refusal.unprocessable("damaged-zip", "\(failure); nothing was imported", field: "file")
        case .unsupportedMethod, .encrypted:
            return Refusal.unprocessable("unsupported-zip", "\(failure); nothing was imported", field: "file")
        }
    }

    // MARK: - Folder

    /// Imports every image of a folder, read as `importZip` reads a zip.
    public func importFolder(
        at root: URL, into project: Project, format: ImportFormat? = nil, labelFromFolders: Bool,
        label: String? = nil, createLabels: Bool = false, progress: Progress? = nil
    ) async throws -> ImportReport {
        let rootPath = root.standardizedFileURL.path
        guard let enumerator = FileManager.default.enumerator(atPath: rootPath) else {
            throw Refusal.invalid("\(rootPath) is not a readable folder", field: "path")
        }
        var sizes: [String: Int64] = [:]
        while let relative = enumerator.nextObject() as? String {
            let full = rootPath + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue else {
                continue
            }
            if Self.isIgnorable(relative) { continue }
            let size = (try? FileManager.default.attributesOfItem(atPath: full)[.size] as? NSNumber)?.int64Value ?? 0
            sizes[relative] = size
        }
        let (plan, project) = try await prepare(
            sizes.keys.sorted(), format: format, labelFromFolders: labelFromFolders, label: label,
            createLabels: createLabels, project: project, sizes: { sizes[$0] ?? 0 }
        ) { path in
            try Data(contentsOf: URL(fileURLWithPath: rootPath + "/" + path))
        } readThrough: { _ in
        }
        var report = try await run(plan.items, into: project, progress: progress) { item, staged in
            guard item.declaredBytes <= limits.maxUploadBytes else {
                throw StagedFile.TooLarge(limit: limits.maxUploadBytes)
            }
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: rootPath + "/" + item.path))
            defer { try? handle.close() }
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                try staged.write(chunk)
            }
        }
        report.finish(plan)
        return report
    }

    // MARK: - Shared

    /// Images ingested at once. The copying out of the zip or folder stays one file at a time
    /// (an archive is read by one reader); ingesting waits mostly on fsyncs and the commit, so
    /// a few at once overlap those waits with the next files' decoding.
    public static let ingestsAtOnce = 4

    /// What became of one file.
    private enum Outcome: Sendable {
        case stored(sha256: String, duplicate: Bool, labels: [String], addedLabels: [String])
        case skipped(ImportReport.Skipped)
    }

    private func run(
        _ items: [ImportItem], into project: Project, progress: Progress?,
        copy: (ImportItem, StagedFile) throws -> Void
    ) async throws -> ImportReport {
        var outcomes = [Outcome?](repeating: nil, count: items.count)
        var partial = ImportReport()
        var done = 0
        func record(_ index: Int, _ outcome: Outcome) {
            outcomes[index] = outcome
            Self.add(outcome, to: &partial)
            done += 1
            progress?(done, items.count, partial)
        }
        try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
            var running = 0
            for (index, item) in items.enumerated() {
                if running == Self.ingestsAtOnce, let (finished, outcome) = try await group.next() {
                    running -= 1
                    record(finished, outcome)
                }
                switch try stage(item, copy: copy) {
                case .skipped(let skipped):
                    record(index, .skipped(skipped))
                case .ready(let upload):
                    running += 1
                    group.addTask { (index, try await self.ingest(upload, item: item, into: project)) }
                }
            }
            while let (finished, outcome) = try await group.next() { record(finished, outcome) }
        }
        // The report lists files in the order they were found, whatever order they finished in.
        var report = ImportReport()
        for outcome in outcomes.compactMap({ $0 }) { Self.add(outcome, to: &report) }
        return report
    }

    /// A file copied into scratch space and hashed, or why it is skipped.
    private enum Staged {
        case ready(StagedUpload)
        case skipped(ImportReport.Skipped)
    }

    /// Copies one file into scratch space and hashes it; a file that is too large or empty is
    /// skipped (any other failure ends the import).
    private func stage(_ item: ImportItem, copy: (ImportItem, StagedFile) throws -> Void) throws -> Staged {
        let staged = try StagedFile(in: scratch, limit: limits.maxUploadBytes)
        let upload: StagedUpload
        do {
            try copy(item, staged)
            let sha256 = try staged.finish()
            upload = StagedUpload(
                url: staged.url, sha256: sha256, byteCount: staged.byteCount,
                originalName: String(item.path.split(separator: "/").last ?? ""))
        } catch is StagedFile.TooLarge {
            staged.discard()
            return .skipped(.init(path: item.path, reason: "larger than \(limits.maxUploadBytes) bytes"))
        } catch {
            staged.discard()
            throw error
        }
        guard upload.byteCount > 0 else {
            try? FileManager.default.removeItem(at: upload.url)
            return .skipped(.init(path: item.path, reason: "the file is empty"))
        }
        return .ready(upload)
    }

    /// Ingests one staged file; files that are not acceptable images are skipped with the reason.
    private func ingest(_ upload: StagedUpload, item: ImportItem, into project: Project) async throws -> Outcome {
        do {
            let outcome = try await library.ingest(
                upload, into: project, labels: item.labels.map { Label(name: $0) })
            // A duplicate of this project's own photos only: other projects' holdings stay unsaid.
            return .stored(
                sha256: upload.sha256, duplicate: outcome.alreadyInProject, labels: item.labels,
                addedLabels: outcome.addedLabels.map(\.name))
        } catch let refusal as Refusal where [.tooLarge, .unsupportedFormat, .unprocessable].contains(refusal.kind) {
            return .skipped(.init(path: item.path, reason: refusal.detail))
        }
    }

    private static func add(_ outcome: Outcome, to report: inout ImportReport) {
        switch outcome {
        case .stored(let sha256, let duplicate, let labels, let addedLabels):
            if duplicate { report.duplicates += 1 } else { report.imported += 1 }
            report.sha256s.append(sha256)
            report.changes.append(.init(sha256: sha256, joined: !duplicate, addedLabels: duplicate ? addedLabels : []))
            for label in labels { report.labels[label, default: 0] += 1 }
        case .skipped(let skipped):
            report.skipped.append(skipped)
        }
    }

    /// Takes back what `report`'s import changed in the project: photos that joined it leave
    /// (their rows and blobs go when no other project holds them), labels it gave photos the
    /// project already held come off. For callers that refuse after importing (a learner
    /// class that cannot be made), so a refusal leaves nothing behind.
    public func undo(_ report: ImportReport, in projectID: Int64) async throws {
        for change in report.changes {
            if change.joined {
                // Demo mode keeps nothing, so there may be nothing to take back.
                guard try await library.store.images.member(sha256: change.sha256, of: projectID) != nil else {
                    continue
                }
                try await library.remove(sha256: change.sha256, from: projectID)
            } else {
                try await library.store.images.removeLabels(change.addedLabels, from: change.sha256, in: projectID)
            }
        }
    }

    /// Refuses absolute paths and any `..` component: the zip-slip attack.
    public static func safePath(_ raw: String) throws -> String {
        let path = raw.replacingOccurrences(of: "\\", with: "/")
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        if path.hasPrefix("/") || components.contains("..") || raw.contains("\0")
            || (components.first?.hasSuffix(":") ?? false)
        {
            throw Refusal.invalid(
                "the zip entry \"\(raw)\" points outside the archive (zip slip); nothing was imported", field: "file")
        }
        return components.joined(separator: "/")
    }

    /// macOS resource forks, hidden files and the like, which are never images.
    public static func isIgnorable(_ path: String) -> Bool {
        path.split(separator: "/").contains { $0.hasPrefix(".") || $0 == "__MACOSX" || $0 == "Thumbs.db" }
    }
}
