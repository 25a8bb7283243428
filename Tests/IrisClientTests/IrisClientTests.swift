import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisClient
import IrisServices
import IrisTesting
import Testing

@Suite("SHA-256 of the client")
struct SHA256Tests {
    @Test("the standard's test vectors, and chunked input equals one piece")
    func vectors() {
        #expect(SHA256.hex(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = Data(repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hex(of: million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        var pieces = SHA256()
        var offset = 0
        for size in [1, 63, 64, 65, 127, 1000, 3] + Array(repeating: 9999, count: 99) where offset < million.count {
            let end = min(million.count, offset + size)
            pieces.update(million[offset..<end])
            offset = end
        }
        pieces.update(million[offset...])
        #expect(pieces.finalize() == SHA256.hex(of: million))
    }
}

@Suite("IrisClient against the real server")
struct IrisClientTests {
    static func client(_ server: TestServer, token: String? = nil) throws -> IrisClient {
        let port = try #require(server.client.port)
        return try IrisClient(server: URL(string: "http://127.0.0.1:\(port)")!, token: token ?? server.adminToken)
    }

    @Test("labels are corrected from the version read (a stale one is a 412), bulk-changed and undone; review decides")
    func labelsAndReview() async throws {
        try await TestServer.with(.sqlite) { server in
            let project = Int(try await server.createProject("Birds", labelSet: ["robin", "sparrow"]))
            let client = try Self.client(server)
            let photo = try await client.upload(
                try Fixtures.jpeg(seed: 41), name: "b.jpg", labels: ["robin"], to: project)
            let corrected = try await client.setLabels(["sparrow"], on: photo.sha256, in: project, ifVersion: 1)
            #expect(corrected.labels.map(\.name) == ["sparrow"] && corrected.version == 2)
            await #expect(throws: IrisClientError.self) {
                _ = try await client.setLabels(["robin"], on: photo.sha256, in: project, ifVersion: 1)
            }
            do {
                _ = try await client.setLabels(["robin"], on: photo.sha256, in: project, ifVersion: 1)
            } catch IrisClientError.problem(let status, _, let field) {
                #expect(status == 412 && field == "If-Match")
            }
            let bulk = try await client.changeLabels([photo.sha256], in: project, add: ["robin"])
            #expect(bulk.changed == 1)
            #expect(try await client.undoLabels(try #require(bulk.operation), in: project).changed == 1)
            // Review: an upload through a link waits; the client sees it and accepts it relabelled.
            _ = try await server.send(.patch, "/api/v1/projects/\(project)", json: ["review": "links"])
            let link = try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "crowd"])
            let code = try #require(try link.json()["code"] as? String)
            var form = MultipartForm()
            form.addFile("file", fileName: "c.jpg", data: try Fixtures.jpeg(seed: 42))
            form.addField("label", "robin")
            let sent = try await server.acting(as: [:]).post(
                "/api/v1/links/\(code)/images", body: form.body, contentType: form.contentType)
            let waiting = try #require(try sent.json()["sha256"] as? String)
            let queue = try await client.review(project)
            #expect(queue.items.map(\.sha256) == [waiting] && queue.counts.additionalProperties["pending"] == 1)
            #expect(try await client.decide([.accept(waiting, labels: ["sparrow"])], in: project) == 1)
            #expect(try await client.review(project).items.isEmpty)
        }
    }

    @Test("projects, the hash check, uploads with labels, and the server's refusals in its words")
    func calls() async throws {
        try await TestServer.with(.sqlite) { server in
            let project = Int(try await server.createProject("Street trees", labelSet: ["oak", "plane"]))
            let client = try Self.client(server)
            #expect(try await client.projects().map(\.name) == ["Street trees"])
            let photo = try Fixtures.jpeg(seed: 31)
            let first = try await client.upload(photo, name: "tree.jpg", labels: ["oak"], to: project)
            // The server hashes with swift-crypto; the client's own SHA-256 agrees.
            #expect(first.sha256 == SHA256.hex(of: photo) && !first.alreadyInProject)
            #expect(try await client.upload(photo, name: "again.jpg", to: project).alreadyInProject)
            // Waiting for an analysis: MobileNetV2 on the uploaded photo, through the API.
            let asked = try await server.send(
                .post, "/api/v1/analyses", json: ["models": ["mobilenet-v2"], "images": [first.sha256]])
            #expect(asked.status.code < 300, "\(asked.text)")
            let analysis = try await client.analysis(of: first.sha256, by: "mobilenet-v2", interval: 0.1, timeout: 60)
            #expect(analysis.state == .succeeded, "\(analysis)")
            let other = SHA256.hex(of: Data("not uploaded".utf8))
            #expect(try await client.present([first.sha256, other], in: project) == [first.sha256])
            // Refusals carry the server's detail and field.
            await #expect(throws: IrisClientError.self) {
                _ = try await client.upload(photo, name: "x.jpg", labels: ["birch"], to: project)
            }
            do {
                _ = try await client.upload(Data("text, not a photo".utf8), name: "notes.jpg", to: project)
                Issue.record("a text file was taken as a photo")
            } catch let error as IrisClientError {
                guard case .problem(let status, let detail, _) = error else {
                    Issue.record("\(error)")
                    return
                }
                #expect(status == 415 && !error.isTransient, "\(detail)")
            }
            let stranger = try Self.client(server, token: "iris_not-a-token")
            do {
                _ = try await stranger.projects()
                Issue.record("an unknown token was let in")
            } catch let error as IrisClientError {
                guard case .problem(401, _, _) = error else {
                    Issue.record("\(error)")
                    return
                }
            }
            // Nothing listening: a transient transport error, worth retrying.
            let nowhere = try IrisClient(server: URL(string: "http://127.0.0.1:9")!, token: nil)
            do {
                _ = try await nowhere.projects()
                Issue.record("port 9 answered")
            } catch let error as IrisClientError {
                #expect(error.isTransient, "\(error)")
            }
        }
    }

    @Test(
        "the upload queue sends each photo once, skips what the project has, keeps refusals, and resumes from its journal"
    )
    func queue() async throws {
        try await TemporaryFolder.with { folder in
            try await TestServer.with(.sqlite) { server in
                let project = Int(try await server.createProject("Queue"))
                let client = try Self.client(server)
                let photos = folder.appendingPathComponent("photos")
                try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
                var files: [URL] = []
                for seed in 0..<8 {
                    let file = photos.appendingPathComponent("p\(seed).jpg")
                    try Fixtures.jpeg(width: 320, height: 240, seed: 100 + seed).write(to: file)
                    files.append(file)
                }
                let broken = photos.appendingPathComponent("broken.jpg")
                try Data("no pixels here".utf8).write(to: broken)
                // One photo is in the project before the queue starts.
                _ = try await client.upload(files[0], to: project)
                let state = folder.appendingPathComponent("queue")

                // First, a server that is not there: the photos wait, with the reason.
                let nowhere = try IrisClient(server: URL(string: "http://127.0.0.1:9")!, token: nil)
                let offline = try UploadQueue(
                    folder: state, client: nowhere, retry: .init(base: 0.01, maximum: 0.02, attempts: 2))
                for (index, file) in files.enumerated() {
                    try await offline.add(
                        file, labels: ["tree"], project: project, copy: index % 2 == 0, key: file.path)
                }
                try await offline.add(broken, project: project, copy: true, key: broken.path)
                // The same key again adds nothing.
                try await offline.add(files[1], project: project, copy: false, key: files[1].path)
                try await offline.run()
                let waited = await offline.progress()
                #expect(waited.total == 9 && waited.waiting == 9, "\(waited)")
                #expect(await offline.all().allSatisfy { $0.error?.contains("could not reach") ?? true })

                // The app comes back (a new queue on the same folder) with the network.
                let queue = try UploadQueue(folder: state, client: client, concurrency: 3)
                #expect(await queue.all().count == 9)
                let seen = Counter()
                let token = await queue.observe { progress in
                    seen.add(progress.sending)
                    seen.saw(progress.sendingIDs)
                }
                try await queue.run()
                await queue.stopObserving(token)
                let done = await queue.progress()
                #expect(
                    done.uploaded == 7 && done.alreadyThere == 1 && done.refused == 1 && done.waiting == 0, "\(done)")
                #expect(done.bytesDone == done.bytesTotal)
                #expect(seen.most <= 3)
                // Each photo being sent was named while it was: 8 were sent (one refused by the server).
                #expect(seen.ids.isSubset(of: Set(await queue.all().map(\.id))) && seen.ids.count == 8, "\(seen.ids)")
                let refused = try #require(await queue.all().first { $0.state == .refused })
                #expect(refused.name == "broken.jpg" && (refused.error ?? "").contains("415"), "\(refused)")
                #expect(try await server.rowCount("project_images") == 8)
                let listed = try await server.get("/api/v1/projects/\(project)/images?limit=100").json()
                let labelled = (listed["items"] as? [[String: Any]] ?? []).filter {
                    ($0["labels"] as? [[String: Any]])?.contains { $0["name"] as? String == "tree" } == true
                }
                #expect(labelled.count == 7)

                // Reopened, it remembers; a second run sends nothing; done ones can be cleared.
                let again = try UploadQueue(folder: state, client: client)
                #expect(await again.progress() == done)
                try await again.run()
                #expect(try await again.recheckDone() == 0)
                try await again.removeDone()
                #expect(await again.all().isEmpty)
                let copies = try FileManager.default.contentsOfDirectory(
                    atPath: state.appendingPathComponent("files").path)
                #expect(copies.isEmpty, "\(copies)")
            }
        }
    }
}

@Suite("IrisClient and a busy server")
struct RateLimitTests {
    @Test("a 429 becomes rateLimited with the server's Retry-After, worth retrying")
    func rateLimited() async throws {
        try await TestServer.with(.sqlite, configure: { $0.uploadRateLimit = 2 }) { server in
            let project = Int(try await server.createProject("Busy"))
            let client = try IrisClientTests.client(server)
            for seed in 0..<2 {
                _ = try await client.upload(try Fixtures.jpeg(seed: 400 + seed), name: "a.jpg", to: project)
            }
            do {
                _ = try await client.upload(try Fixtures.jpeg(seed: 402), name: "b.jpg", to: project)
                Issue.record("a third upload in a minute was taken")
            } catch let error as IrisClientError {
                guard case .rateLimited(let seconds, let detail) = error else {
                    Issue.record("\(error)")
                    return
                }
                #expect(seconds > 0 && seconds <= 60 && error.isTransient, "\(detail)")
            }
        }
    }
}

/// The largest value seen, from any thread.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var most = 0
    private(set) var ids: Set<String> = []
    func add(_ value: Int) {
        lock.lock()
        most = max(most, value)
        lock.unlock()
    }
    func saw(_ names: [String]) {
        lock.lock()
        ids.formUnion(names)
        lock.unlock()
    }
}
