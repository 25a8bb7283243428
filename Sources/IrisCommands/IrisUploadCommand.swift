public import Foundation
import IrisBlobs
public import IrisClient

/// `iris upload`: folders, files and zips to a project on any Iris server, through IrisClient's
/// upload queue. The queue's journal lives in a state folder named by the server, project and
/// paths, so running the same command again resumes: photos done are only confirmed (one hash
/// check), the rest are sent.
public enum IrisUpload {
    public struct Options: Sendable {
        public var paths: [String]
        public var server: URL
        public var token: String
        public var project: String
        public var labels: [String]
        public var labelFromFolders: Bool
        public var concurrency: Int
        public var state: URL?
        /// How long to keep trying while the server cannot be reached.
        public var retryFor: Double

        public init(
            paths: [String], server: URL, token: String, project: String, labels: [String], labelFromFolders: Bool,
            concurrency: Int, state: URL?, retryFor: Double
        ) {
            (self.paths, self.server, self.token, self.project, self.labels) = (paths, server, token, project, labels)
            (self.labelFromFolders, self.concurrency, self.state, self.retryFor) = (
                labelFromFolders, concurrency, state, retryFor
            )
        }
    }

    public struct Summary: Sendable {
        /// Done on an earlier run (and still on the server).
        public var earlier = 0
        public var uploaded = 0
        public var alreadyThere = 0
        public var refused: [(name: String, reason: String)] = []
        public var notImages: [String] = []
        public var waiting = 0
        public var seconds = 0.0
    }

    /// Files taken (by extension; the server still checks the bytes).
    static let imageExtensions: Set<String> = [
        "jpg", "jpeg", "png", "webp", "gif", "tif", "tiff", "bmp", "heic", "heif", "avif", "jxl",
    ]
    /// The most entries a zip may hold, and the most files one run takes.
    static let maxFiles = 1_000_000

    public static func run(_ options: Options) async throws -> Summary {
        let started = Date()
        let client = try IrisClient(server: options.server, token: options.token)
        let project = try await resolve(options.project, client: client)
        let state = options.state ?? defaultState(options, project: project)
        let queue = try UploadQueue(
            folder: state, client: client, concurrency: options.concurrency,
            retry: .init(base: 0.5, maximum: 10, attempts: nil))
        var summary = Summary()
        // Photos done on an earlier run: confirmed with one check (any the server lost go again).
        if await queue.progress().done > 0 { _ = try? await queue.recheckDone() }
        for path in options.paths {
            try await collect(
                URL(fileURLWithPath: path).standardizedFileURL, options: options, project: project, queue: queue,
                state: state, summary: &summary)
        }
        let doneBefore = Set(await queue.all().filter(\.isDone).map(\.id))
        summary.earlier = doneBefore.count
        let bar = ProgressBar()
        let startBytes = await queue.progress().bytesDone
        let outage = Outage()
        let token = await queue.observe { progress in
            // One line when the server stops answering, one when it answers again.
            if let message = outage.change(progress.retrying) {
                FileHandle.standardError.write(Data((message + "\n").utf8))
            }
            bar.draw(done: progress.done, total: progress.total) { seconds in
                let sent = Double(progress.bytesDone - startBytes)
                let rate = sent / seconds
                let left = Double(progress.bytesTotal - progress.bytesDone)
                let eta = rate > 0 ? String(format: " ETA %.0f s", left / rate) : ""
                return String(
                    format: "  %.1f/%.1f MB  %.1f MB/s%@%@", Double(progress.bytesDone) / 1e6,
                    Double(progress.bytesTotal) / 1e6, rate / 1e6, eta,
                    progress.retrying.map { "  (\($0))" } ?? "")
            }
        }
        // Give up when the server stays unreachable for `retryFor` seconds.
        let running = Task { try await queue.run() }
        let watchdog = Task {
            var since: Date?
            while !Task.isCancelled {
                try await Task.sleep(nanoseconds: 250_000_000)
                let progress = await queue.progress()
                if progress.retrying != nil && progress.sending == 0 {
                    since = since ?? Date()
                    if Date().timeIntervalSince(since!) > options.retryFor { running.cancel() }
                } else {
                    since = nil
                }
            }
        }
        defer { watchdog.cancel() }
        try? await running.value
        watchdog.cancel()
        await queue.stopObserving(token)
        let final = await queue.progress()
        bar.draw(done: final.done, total: final.total) { _ in "" }
        bar.finish()
        for item in await queue.all() where !doneBefore.contains(item.id) {
            switch item.state {
            case .uploaded: summary.uploaded += 1
            case .alreadyThere: summary.alreadyThere += 1
            case .refused: summary.refused.append((item.name, item.error ?? "refused"))
            case .waiting: summary.waiting += 1
            }
        }
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// A project by id, or by its exact name among those the token may see.
    static func resolve(_ project: String, client: IrisClient) async throws -> Int {
        let projects = try await client.projects()
        if let id = Int(project) {
            guard projects.contains(where: { $0.id == id }) else {
                throw IrisClientError.unexpected("no project \(id) that this token may see")
            }
            return id
        }
        let named = projects.filter { $0.name == project }
        guard let match = named.first else {
            throw IrisClientError.unexpected("no project named \"\(project)\" that this token may see")
        }
        return match.id
    }

    /// `~/.cache/iris/uploads/<hash of the server, project and paths>`.
    static func defaultState(_ options: Options, project: Int) -> URL {
        let environment = ProcessInfo.processInfo.environment
        let cache =
            environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSTemporaryDirectory()).appendingPathComponent(".cache")
        let identity =
            ([options.server.absoluteString, String(project)]
            + options.paths.map { URL(fileURLWithPath: $0).standardizedFileURL.path }.sorted()).joined(separator: "\n")
        return cache.appendingPathComponent("iris/uploads")
            .appendingPathComponent(String(SHA256.hex(of: Data(identity.utf8)).prefix(16)))
    }

    private static func collect(
        _ root: URL, options: Options, project: Int, queue: UploadQueue, state: URL, summary: inout Summary
    ) async throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isFolder) else {
            throw IrisClientError.unexpected("\(root.path) does not exist")
        }
        if !isFolder.boolValue {
            try await take(
                root, folderLabel: nil, options: options, project: project, queue: queue, state: state,
                summary: &summary)
            return
        }
        guard
            let walker = FileManager.default.enumerator(
                at: root, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        else { return }
        var files: [URL] = []
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            files.append(url)
            guard files.count <= maxFiles else { throw IrisClientError.unexpected("more than \(maxFiles) files") }
        }
        for url in files.sorted(by: { $0.path < $1.path }) {
            let relative = url.path.dropFirst(root.path.count + 1).split(separator: "/")
            try await take(
                url, folderLabel: relative.count > 1 ? String(relative[relative.count - 2]) : nil, options: options,
                project: project, queue: queue, state: state, summary: &summary)
        }
    }

    private static func take(
        _ file: URL, folderLabel: String?, options: Options, project: Int, queue: UploadQueue, state: URL,
        summary: inout Summary
    ) async throws {
        let kind = file.pathExtension.lowercased()
        if kind == "zip" {
            try await takeZip(file, options: options, project: project, queue: queue, state: state, summary: &summary)
            return
        }
        guard imageExtensions.contains(kind) else {
            summary.notImages.append(file.path)
            return
        }
        let labels = options.labels + (options.labelFromFolders ? folderLabel.map { [$0] } ?? [] : [])
        try await queue.add(file, labels: labels, project: project, copy: false, key: try key(of: file))
    }

    /// A zip's images are unpacked once into the state folder (a marker says it finished), then
    /// queued like files; `--label-from-folders` takes the folder an entry is in.
    private static func takeZip(
        _ zip: URL, options: Options, project: Int, queue: UploadQueue, state: URL, summary: inout Summary
    ) async throws {
        let zipKey = try key(of: zip)
        let folder = state.appendingPathComponent("zips")
            .appendingPathComponent(String(SHA256.hex(of: Data(zipKey.utf8)).prefix(16)))
        let done = folder.appendingPathComponent(".unpacked")
        let manager = FileManager.default
        if !manager.fileExists(atPath: done.path) {
            try? manager.removeItem(at: folder)
            try manager.createDirectory(at: folder, withIntermediateDirectories: true)
            let archive = try ZipArchive(url: zip, maxEntries: maxFiles)
            var index = 0
            for entry in archive.entries where entry.kind == .file {
                let parts = entry.path.split(separator: "/").map(String.init)
                guard let name = parts.last, !name.hasPrefix("."),
                    imageExtensions.contains((name as NSString).pathExtension.lowercased())
                else {
                    if entry.kind == .file { summary.notImages.append("\(zip.lastPathComponent): \(entry.path)") }
                    continue
                }
                index += 1
                // Flat, numbered names: nothing in an entry's path decides where it is written.
                let label = parts.count > 1 ? parts[parts.count - 2] : ""
                let target = folder.appendingPathComponent(
                    String(format: "%06d", index) + "-" + Self.safe(label) + "--" + Self.safe(name))
                manager.createFile(atPath: target.path, contents: nil)
                let handle = try FileHandle(forWritingTo: target)
                try archive.read(entry) { bytes in handle.write(Data(bytes)) }
                try handle.close()
            }
            manager.createFile(atPath: done.path, contents: Data(zipKey.utf8))
        }
        for file in (try manager.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)).sorted(by: {
            $0.path < $1.path
        }) where !file.lastPathComponent.hasPrefix(".") {
            let parts = file.lastPathComponent.dropFirst(7).components(separatedBy: "--")
            guard parts.count == 2 else { continue }
            let (label, name) = (parts[0].removingPercentEncoding ?? "", parts[1].removingPercentEncoding ?? parts[1])
            let labels = options.labels + (options.labelFromFolders && !label.isEmpty ? [label] : [])
            try await queue.add(
                file, name: name, labels: labels, project: project, copy: false, key: try key(of: file))
        }
    }

    /// A name with only letters, digits, dots, dashes and spaces; others percent-encoded.
    static func safe(_ name: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: ". _")
        return (name.addingPercentEncoding(withAllowedCharacters: allowed) ?? "x").prefix(120).description
    }

    /// Path, size and modification time: a file changed since it was queued is a new photo.
    static func key(of file: URL) throws -> String {
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(file.path)|\(size)|\(modified)"
    }
}

/// Whether the server is answering, for `iris upload`'s log lines.
final class Outage: @unchecked Sendable {
    private let lock = NSLock()
    private var down = false

    /// The line to print when the state changes (nil: no change).
    func change(_ retrying: String?) -> String? {
        lock.lock()
        defer { lock.unlock() }
        switch (down, retrying) {
        case (false, let reason?):
            down = true
            return "\n" + reason
        case (true, nil):
            down = false
            return "the server answers again"
        default: return nil
        }
    }
}
