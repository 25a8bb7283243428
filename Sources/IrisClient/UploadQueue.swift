public import Foundation

/// Photos waiting to go to an Iris server, kept on disk so that none is lost when the network,
/// the server or the app goes away: a folder with the files (when they are copied in) and a
/// journal of what was added and what became of each. `run` sends them with bounded
/// concurrency, asks the server first which it has already (by SHA-256, so nothing is sent
/// twice), and retries what failed for a passing reason with exponential backoff.
///
/// The journal (`journal.jsonl`) is a line per event, appended and flushed to disk: an added
/// photo, or a photo's new state. Opening the queue replays it; it is rewritten, compacted,
/// when it has grown to four times the items it describes. A photo whose upload was under way
/// when the process ended is still `waiting`, and is asked about again on the next run: the
/// server keeps one copy per project whatever happens.
public actor UploadQueue {
    public enum State: String, Codable, Sendable {
        /// Not sent yet, or sent without an answer.
        case waiting
        /// The server took it.
        case uploaded
        /// The project had it already.
        case alreadyThere = "already_there"
        /// The server refused it for good (not an image, a label the project has not, no
        /// access): `error` says why in the server's words.
        case refused
    }

    public struct Item: Codable, Sendable, Identifiable, Equatable {
        public var id: String
        /// The file to send: absolute, or relative to the queue's folder when it was copied in.
        public var file: String
        /// The name the server records (the original file name).
        public var name: String
        public var labels: [String]
        public var project: Int
        public var bytes: Int64
        /// What the caller identifies the photo by (e.g. path, size and date), to skip adding it twice.
        public var key: String?
        public var sha256: String?
        public var state: State
        public var attempts: Int
        public var error: String?

        public var isDone: Bool { state != .waiting }
    }

    /// Where the queue stands.
    public struct Progress: Sendable, Equatable {
        public var total = 0
        public var uploaded = 0
        public var alreadyThere = 0
        public var refused = 0
        public var waiting = 0
        public var bytesTotal: Int64 = 0
        /// Bytes of the photos that are done (uploaded, already there or refused).
        public var bytesDone: Int64 = 0
        /// Photos being sent now, and which (their `Item.id`s, sorted): an app marks those rows.
        public var sending = 0
        public var sendingIDs: [String] = []
        /// Set while the server cannot be reached: the last reason and when the next try is.
        public var retrying: String?

        public var done: Int { uploaded + alreadyThere + refused }
    }

    /// How long to wait between tries of a photo the server did not answer for: `base`
    /// seconds doubling up to `maximum`, each wait jittered by up to a quarter. `attempts` nil
    /// tries until the queue is stopped (an app waiting for the network); a number gives up
    /// after that many (a command that should end), leaving the photo waiting.
    public struct Retry: Sendable {
        public var base: Double
        public var maximum: Double
        public var attempts: Int?

        public init(base: Double = 0.5, maximum: Double = 30, attempts: Int? = nil) {
            (self.base, self.maximum, self.attempts) = (base, maximum, attempts)
        }

        func delay(after attempt: Int) -> Double {
            let plain = min(maximum, base * pow(2, Double(max(0, attempt - 1))))
            return plain * (1 + Double.random(in: 0..<0.25))
        }
    }

    public let folder: URL
    public let client: IrisClient
    public let concurrency: Int
    public let retry: Retry
    private var items: [Item] = []
    private var positions: [String: Int] = [:]
    private var keys: [String: Int] = [:]
    private var journal: FileHandle
    private var journalLines = 0
    private var sending: Set<String> = []
    private var retrying: String?
    private var observers: [UUID: @Sendable (Progress) -> Void] = [:]

    /// Opens (or creates) the queue in `folder`, replaying its journal.
    public init(folder: URL, client: IrisClient, concurrency: Int = 4, retry: Retry = Retry()) throws {
        self.folder = folder
        self.client = client
        self.concurrency = max(1, min(concurrency, 32))
        self.retry = retry
        let manager = FileManager.default
        try manager.createDirectory(at: folder.appendingPathComponent("files"), withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("journal.jsonl")
        if !manager.fileExists(atPath: path.path) { manager.createFile(atPath: path.path, contents: nil) }
        let (replayed, lines) = try Self.replay(path)
        journal = try FileHandle(forWritingTo: path)
        try journal.seekToEnd()
        journalLines = lines
        items = replayed
        (positions, keys) = Self.index(replayed)
    }

    private static func index(_ items: [Item]) -> (positions: [String: Int], keys: [String: Int]) {
        var positions: [String: Int] = [:]
        var keys: [String: Int] = [:]
        for (position, item) in items.enumerated() {
            positions[item.id] = position
            if let key = item.key { keys[key] = position }
        }
        return (positions, keys)
    }

    deinit { try? journal.close() }

    /// Adds a photo. `copy` puts a copy in the queue's folder (a camera's photo that may not
    /// last); otherwise the queue reads the file where it is when its turn comes. `name` is
    /// what the server records (the file's own name unless given). A `key`
    /// already in the queue adds nothing and answers the item there.
    @discardableResult
    public func add(
        _ file: URL, name: String? = nil, labels: [String] = [], project: Int, copy: Bool, key: String? = nil
    ) throws -> Item {
        if let key, let known = keys[key] { return items[known] }
        let id = UUID().uuidString.lowercased()
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        guard (attributes[.type] as? FileAttributeType) == .typeRegular else {
            throw IrisClientError.unexpected("\(file.lastPathComponent) is not a regular file")
        }
        var stored = file.standardizedFileURL.path
        if copy {
            let target = folder.appendingPathComponent("files").appendingPathComponent(id)
            try FileManager.default.copyItem(at: file, to: target)
            stored = "files/\(id)"
        }
        let item = Item(
            id: id, file: stored, name: name ?? file.lastPathComponent, labels: labels, project: project,
            bytes: (attributes[.size] as? NSNumber)?.int64Value ?? 0, key: key, sha256: nil, state: .waiting,
            attempts: 0, error: nil)
        try write(.init(add: item))
        place(item)
        notify()
        return item
    }

    /// Every photo of the queue, in the order added.
    public func all() -> [Item] { items }

    public func progress() -> Progress {
        var progress = Progress()
        for item in items {
            progress.total += 1
            progress.bytesTotal += item.bytes
            switch item.state {
            case .waiting: progress.waiting += 1
            case .uploaded: progress.uploaded += 1
            case .alreadyThere: progress.alreadyThere += 1
            case .refused: progress.refused += 1
            }
            if item.isDone { progress.bytesDone += item.bytes }
        }
        progress.sending = sending.count
        progress.sendingIDs = sending.sorted()
        progress.retrying = retrying
        return progress
    }

    /// Calls `observer` (on the queue's executor) after every change until the token is dropped.
    public func observe(_ observer: @escaping @Sendable (Progress) -> Void) -> UUID {
        let token = UUID()
        observers[token] = observer
        return token
    }

    public func stopObserving(_ token: UUID) { observers[token] = nil }

    /// Takes out the photos that are done (and their copies), keeping the waiting ones.
    public func removeDone() throws {
        for item in items where item.isDone && item.file.hasPrefix("files/") {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(item.file))
        }
        items = items.filter { !$0.isDone }
        (positions, keys) = Self.index(items)
        try compact()
    }

    /// Marks done photos waiting again when the server no longer has them (it was reset, or
    /// they were removed): one hash check for all of them. Answers how many were re-queued.
    @discardableResult
    public func recheckDone() async throws -> Int {
        let done = items.filter { [.uploaded, .alreadyThere].contains($0.state) && $0.sha256 != nil }
        var again = 0
        for (project, members) in Dictionary(grouping: done, by: \.project) {
            let present = try await client.present(members.compactMap(\.sha256), in: project)
            for item in members where !present.contains(item.sha256 ?? "") {
                try update(item.id) { $0.state = .waiting }
                again += 1
            }
        }
        return again
    }

    /// Sends every waiting photo; returns when none is waiting (or, with a bounded retry, when
    /// the ones left have used their attempts), or when the task is cancelled.
    public func run() async throws {
        var givenUp: Set<String> = []
        var checkFailures = 0
        while !Task.isCancelled {
            let waiting = items.filter { $0.state == .waiting && !givenUp.contains($0.id) }
            if waiting.isEmpty { break }
            // What the server has already: one question per project, for the photos hashed.
            do {
                try await hash(waiting)
                try await checkPresent(items.filter { $0.state == .waiting && $0.sha256 != nil })
                retrying = nil
                checkFailures = 0
            } catch let error as IrisClientError where error.isTransient {
                checkFailures += 1
                if let attempts = retry.attempts, checkFailures >= attempts {
                    for item in waiting {
                        try update(item.id) { $0.error = error.description }
                        givenUp.insert(item.id)
                    }
                    continue
                }
                try await pause(error, attempt: checkFailures)
                continue
            }
            let toSend = items.filter { $0.state == .waiting && !givenUp.contains($0.id) }.map(\.id)
            await withTaskGroup(of: (String, Bool).self) { group in
                var next = toSend.makeIterator()
                func start() -> Bool {
                    guard let id = next.next() else { return false }
                    group.addTask { (id, await self.send(id)) }
                    return true
                }
                for _ in 0..<concurrency where !start() { break }
                while let (id, finished) = await group.next() {
                    // Not finished: its attempts are used up (or the task was cancelled).
                    if !finished { givenUp.insert(id) }
                    _ = Task.isCancelled ? false : start()
                }
            }
        }
        retrying = nil
        notify()
    }

    // MARK: - Sending

    /// One photo until it is done or its attempts are used up; answers whether it is done.
    private func send(_ id: String) async -> Bool {
        while !Task.isCancelled, let item = positions[id].map({ items[$0] }), item.state == .waiting {
            if let attempts = retry.attempts, item.attempts >= attempts { return false }
            sending.insert(id)
            notify()
            let outcome: Result<IrisClient.Uploaded, any Error>
            do {
                let data = try Data(contentsOf: location(of: item))
                outcome = .success(
                    try await client.upload(data, name: item.name, labels: item.labels, to: item.project))
            } catch {
                outcome = .failure(error)
            }
            sending.remove(id)
            switch outcome {
            case .success(let uploaded):
                retrying = nil
                try? update(id) {
                    $0.state = uploaded.alreadyInProject ? .alreadyThere : .uploaded
                    $0.sha256 = uploaded.sha256
                    $0.attempts += 1
                    $0.error = nil
                }
                return true
            case .failure(let error as IrisClientError) where error.isTransient:
                try? update(id) {
                    $0.attempts += 1
                    $0.error = error.description
                }
                let attempts = positions[id].map { items[$0].attempts } ?? 1
                if let limit = retry.attempts, attempts >= limit { return false }
                try? await pause(error, attempt: attempts)
            case .failure(let error):
                // The server said no for good, or the file cannot be read: it stays refused.
                try? update(id) {
                    $0.state = .refused
                    $0.attempts += 1
                    $0.error = (error as? IrisClientError)?.description ?? "the file could not be read"
                }
                return true
            }
        }
        return positions[id].map { items[$0].isDone } ?? true
    }

    private func pause(_ error: IrisClientError, attempt: Int) async throws {
        // A server asking to slow down says for how long (at most two minutes are taken).
        var wait = retry.delay(after: attempt)
        if case .rateLimited(let seconds, _) = error { wait = min(120, seconds) * (1 + Double.random(in: 0..<0.1)) }
        retrying = "\(error.description); trying again in \(String(format: "%.1f", wait)) s"
        notify()
        try await Task.sleep(nanoseconds: UInt64(wait * 1e9))
    }

    private func hash(_ waiting: [Item]) async throws {
        for item in waiting where item.sha256 == nil {
            try Task.checkCancellation()
            let url = location(of: item)
            guard let digest = try? await Task.detached(operation: { try SHA256.hex(ofFile: url) }).value else {
                try update(item.id) {
                    $0.state = .refused
                    $0.error = "the file could not be read"
                }
                continue
            }
            try update(item.id) { $0.sha256 = digest }
        }
    }

    private func checkPresent(_ waiting: [Item]) async throws {
        for (project, members) in Dictionary(grouping: waiting, by: \.project) {
            let present = try await client.present(members.compactMap(\.sha256), in: project)
            for item in members where present.contains(item.sha256 ?? "") {
                try update(item.id) { $0.state = .alreadyThere }
            }
        }
    }

    private func location(of item: Item) -> URL {
        item.file.hasPrefix("/") ? URL(fileURLWithPath: item.file) : folder.appendingPathComponent(item.file)
    }

    // MARK: - The journal

    private struct Line: Codable {
        var add: Item?
        var id: String?
        var state: State?
        var sha256: String?
        var attempts: Int?
        var error: String?
    }

    private func place(_ item: Item) {
        if let known = positions[item.id] {
            items[known] = item
            return
        }
        positions[item.id] = items.count
        if let key = item.key { keys[key] = items.count }
        items.append(item)
    }

    private func update(_ id: String, _ change: (inout Item) -> Void) throws {
        guard let position = positions[id] else { return }
        change(&items[position])
        let item = items[position]
        try write(
            .init(id: id, state: item.state, sha256: item.sha256, attempts: item.attempts, error: item.error))
        notify()
        if journalLines > max(64, items.count * 4) { try compact() }
    }

    private func write(_ line: Line) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = try encoder.encode(line)
        data.append(0x0A)
        try journal.write(contentsOf: data)
        try journal.synchronize()
        journalLines += 1
    }

    /// Rewrites the journal as one line per item, then swaps it in (a crash leaves the old one).
    private func compact() throws {
        let path = folder.appendingPathComponent("journal.jsonl")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = Data()
        for item in items {
            data.append(try encoder.encode(Line(add: item)))
            data.append(0x0A)
        }
        try journal.close()
        // Written beside it and renamed over it.
        try data.write(to: path, options: .atomic)
        journal = try FileHandle(forWritingTo: path)
        try journal.seekToEnd()
        journalLines = items.count
    }

    private static func replay(_ path: URL) throws -> ([Item], Int) {
        let data = try Data(contentsOf: path)
        var items: [Item] = []
        var positions: [String: Int] = [:]
        var lines = 0
        let decoder = JSONDecoder()
        for raw in data.split(separator: 0x0A) {
            // A line cut short by a crash is skipped: it was the last, and its change is lost.
            guard let line = try? decoder.decode(Line.self, from: Data(raw)) else { continue }
            lines += 1
            if let item = line.add {
                positions[item.id] = positions[item.id] ?? items.count
                if positions[item.id] == items.count { items.append(item) } else { items[positions[item.id]!] = item }
            } else if let id = line.id, let position = positions[id] {
                if let state = line.state { items[position].state = state }
                items[position].sha256 = line.sha256 ?? items[position].sha256
                items[position].attempts = line.attempts ?? items[position].attempts
                items[position].error = line.error
            }
        }
        return (items, lines)
    }

    private func notify() {
        guard !observers.isEmpty else { return }
        let now = progress()
        for observer in observers.values { observer(now) }
    }
}
