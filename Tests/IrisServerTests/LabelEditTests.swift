import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisClient
import IrisCore
import IrisML
import IrisServices
import IrisTesting
import NIOCore
import SQLKit
import Testing

@testable import IrisStore

/// Correcting labels: one photo from the version its editor saw, many at once, undone; every
/// change evented; refusals write nothing. Answers are read as the generated client's types.
@Suite("Label correction")
struct LabelEditTests {
    typealias ImageLabels = Components.Schemas.ImageLabels
    typealias LabelChange = Components.Schemas.LabelChange

    static func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        try response.decoded(as: type)
    }

    /// Every human label of the project, as rows: what undo must restore exactly.
    static func labelRows(_ server: TestServer, _ project: Int64) async throws -> [String] {
        try await server.store.database.withConnection { db in
            try await db.raw(
                "SELECT sha256, name, source FROM labels WHERE project_id = \(bind: project) ORDER BY sha256, name, source"
            ).all().map {
                "\(try $0.decode(column: "sha256", as: String.self)) \(try $0.decode(column: "name", as: String.self)) \(try $0.decode(column: "source", as: String.self))"
            }
        }
    }

    /// A learner over stored embeddings: each photo a member of the class of its label.
    static func teach(
        _ server: TestServer, project: Int64, model: String,
        _ members: [(sha256: String, label: String, vector: [Float])]
    ) async throws {
        try await server.store.learning.update(projectID: project, names: nil) { _, _ -> (LearnerChange?, Void) in
            var learner = IncrementalLearner(dimension: members[0].vector.count)
            for member in members { learner.add(member.vector, to: member.label) }
            var change = LearnerChange(
                learner: LearningService.record(learner, projectID: project, model: model, previous: nil))
            change.upserted = learner.shells.values.map { LearningService.classRecord($0, previous: nil) }
            change.members = members.map { ($0.label, $0.sha256) }
            return (change, ())
        }
    }

    static func labelEvents(_ server: TestServer, _ project: Int64) async throws -> [Event] {
        try await server.store.events.list(afterID: 0, projectIDs: [project], limit: 100_000).filter {
            $0.action == EventAction.labelChanged.rawValue
        }
    }

    @Test(
        "an editor corrects one photo from the version they saw; a stale version is a 412; bad labels and viewers change nothing",
        arguments: TestDatabase.enabled)
    func single(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: a crowd photo labelled robin that is a sparrow
            let project = try await server.createProject("birds", labelSet: ["robin", "sparrow", "wren"])
            let upload = try await server.upload(
                try Fixtures.jpeg(width: 64, height: 48, seed: 1), to: project, labels: ["robin"])
            let sha256 = try #require(try upload.json()["sha256"] as? String)
            let path = "/api/v1/projects/\(project)/images/\(sha256)/labels"
            let first = try Self.decode(ImageLabels.self, try await server.get(path))
            #expect(first.labels.map(\.name) == ["robin"] && first.version == 1)

            // act: the correction, from version 1
            let corrected = try await server.request(
                .put, path, headers: [.contentType: "application/json", .ifMatch: "\"1\""],
                body: ByteBuffer(string: #"{"labels": ["sparrow"]}"#))
            // check
            #expect(corrected.status == .ok, "\(corrected.text)")
            let body = try Self.decode(ImageLabels.self, corrected)
            #expect(body.labels.map(\.name) == ["sparrow"] && body.version == 2 && body.operation != nil)
            #expect(corrected.headers[.eTag] == "\"2\"")

            // A second reviewer still holding version 1 is refused, and nothing changes.
            let stale = try await server.request(
                .put, path, headers: [.contentType: "application/json", .ifMatch: "\"1\""],
                body: ByteBuffer(string: #"{"labels": ["wren"]}"#))
            #expect(stale.status == .preconditionFailed, "\(stale.text)")
            #expect((try stale.json()["detail"] as? String)?.contains("changed since version 1") == true)
            #expect(try Self.decode(ImageLabels.self, try await server.get(path)).labels.map(\.name) == ["sparrow"])

            let viewer = try await server.store.accounts.createUser(
                username: "watcher", passwordHash: "x", isAdmin: false)
            try await server.store.accounts.setRole(projectID: project, userID: viewer.id, .viewer)
            let viewerToken = try await TestAccounts.token(for: viewer, scopes: [.read, .write], in: server.store)
            // Refusals write nothing: a label outside the set (named), a malformed If-Match, a viewer.
            let before = try await server.rowCounts()
            let outside = try await server.send(.put, path, json: ["labels": ["eagle"]])
            #expect(outside.status == .badRequest && outside.text.contains("eagle"), "\(outside.text)")
            let badVersion = try await server.request(
                .put, path, headers: [.contentType: "application/json", .ifMatch: "soon"],
                body: ByteBuffer(string: #"{"labels": ["wren"]}"#))
            #expect(badVersion.status == .badRequest && badVersion.text.contains("If-Match"))
            let refused = try await server.acting(as: TestServer.bearer(viewerToken)).send(
                .put, path, json: ["labels": ["wren"]])
            #expect(refused.status == .forbidden)
            #expect(try await server.rowCounts() == before)
            // The viewer still reads the labels and their history.
            let seen = try Self.decode(
                ImageLabels.self, try await server.acting(as: TestServer.bearer(viewerToken)).get(path))
            // The upload first (who gave robin), then the correction.
            #expect(seen.history?.count == 2)
            #expect(seen.history?.first?.operation == nil && seen.history?.first?.added == ["robin"])
            #expect(seen.history?.last?.added == ["sparrow"] && seen.history?.last?.removed == ["robin"])

            // The same labels again change nothing and record nothing.
            let same = try Self.decode(
                ImageLabels.self, try await server.send(.put, path, json: ["labels": ["sparrow"]]))
            #expect(same.version == 2 && same.operation == nil)

            // One label.changed event, saying before and after.
            let events = try await Self.labelEvents(server, project)
            #expect(events.count == 1)
            #expect(events.first?.subject == sha256)
            #expect(events.first?.detail["before"] == #"["robin"]"# && events.first?.detail["after"] == #"["sparrow"]"#)
            #expect(events.first?.detail["operation"] == body.operation.map(String.init))
        }
    }

    @Test(
        "a bulk change is all or nothing and evented per photo; undo restores exactly, once, and not after a later edit",
        arguments: TestDatabase.enabled)
    func bulk(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: 12 photos labelled robin, 3 labelled wren
            let project = try await server.createProject("garden", labelSet: ["robin", "sparrow", "wren"])
            var robins: [String] = []
            for seed in 0..<15 {
                let upload = try await server.upload(
                    try Fixtures.jpeg(width: 40, height: 30, seed: 100 + seed), to: project,
                    labels: [seed < 12 ? "robin" : "wren"])
                if seed < 12 { robins.append(try #require(try upload.json()["sha256"] as? String)) }
            }
            let original = try await Self.labelRows(server, project)

            // Refusals first: each writes nothing.
            let counts = try await server.rowCounts()
            let stranger = String(repeating: "0", count: 64)
            for (json, status, words) in [
                (
                    ["images": [robins[0], stranger], "add": ["sparrow"]], HTTPResponse.Status.notFound,
                    String(stranger.prefix(12))
                ),
                (["filter": ["q": "bird"], "add": ["sparrow"]], .badRequest, "filter.q"),
                (["filter": ["label": "robin"], "add": ["eagle"]], .badRequest, "eagle"),
                (["filter": ["label": "robin"], "add": ["sparrow"], "remove": ["sparrow"]], .badRequest, "both"),
                (["images": [robins[0]], "filter": ["label": "robin"], "add": ["sparrow"]], .badRequest, "one of"),
                (["filter": ["label": "robin"]], .badRequest, "at least one"),
            ] as [([String: Any], HTTPResponse.Status, String)] {
                let response = try await server.send(.post, "/api/v1/projects/\(project)/labels", json: json)
                #expect(response.status == status && response.text.contains(words), "\(json) → \(response.text)")
            }
            #expect(try await server.rowCounts() == counts)

            // act: every robin becomes a sparrow
            let change = try Self.decode(
                LabelChange.self,
                try await server.send(
                    .post, "/api/v1/projects/\(project)/labels",
                    json: ["filter": ["label": "robin"], "add": ["sparrow"], "remove": ["robin"]]))
            // check
            #expect(change.changed == 12)
            let operation = try #require(change.operation)
            let relabelled = try await server.get("/api/v1/projects/\(project)/images?label=sparrow&limit=100").json()
            #expect((relabelled["items"] as? [Any])?.count == 12)
            #expect(try await Self.labelEvents(server, project).count == 12)
            // Again: nothing left to change, no operation.
            let again = try Self.decode(
                LabelChange.self,
                try await server.send(
                    .post, "/api/v1/projects/\(project)/labels", json: ["images": robins, "add": ["sparrow"]]))
            #expect(again.changed == 0 && again.operation == nil)

            // Undo restores the label rows exactly, and only once.
            let undone = try await server.send(
                .post, "/api/v1/projects/\(project)/labels/undo", json: ["operation": operation])
            #expect(undone.status == .ok, "\(undone.text)")
            #expect(try Self.decode(LabelChange.self, undone).changed == 12)
            #expect(try await Self.labelRows(server, project) == original)
            let twice = try await server.send(
                .post, "/api/v1/projects/\(project)/labels/undo", json: ["operation": operation])
            #expect(twice.status == .conflict && twice.text.contains("undone already"))

            // A change whose photo was edited since cannot be undone: the photo is named, nothing moves.
            let second = try #require(
                try Self.decode(
                    LabelChange.self,
                    try await server.send(
                        .post, "/api/v1/projects/\(project)/labels", json: ["images": robins, "add": ["wren"]])
                ).operation)
            _ = try await server.send(
                .put, "/api/v1/projects/\(project)/images/\(robins[3])/labels", json: ["labels": ["sparrow"]])
            let rowsBefore = try await Self.labelRows(server, project)
            let blocked = try await server.send(
                .post, "/api/v1/projects/\(project)/labels/undo", json: ["operation": second])
            #expect(blocked.status == .conflict && blocked.text.contains(robins[3].prefix(12)), "\(blocked.text)")
            #expect(try await Self.labelRows(server, project) == rowsBefore)
            // The events name each photo once per change: 12 + 12 (undo) + 12 + 1.
            #expect(try await Self.labelEvents(server, project).count == 37)
        }
    }

    /// A project of 12 robins and 3 wrens; answers the robins.
    static func garden(_ server: TestServer, _ project: Int64, seed: Int) async throws -> [String] {
        var robins: [String] = []
        for index in 0..<15 {
            let upload = try await server.upload(
                try Fixtures.jpeg(width: 40, height: 30, seed: seed + index), to: project,
                labels: [index < 12 ? "robin" : "wren"])
            if index < 12 { robins.append(try #require(try upload.json()["sha256"] as? String)) }
        }
        return robins
    }

    static func incomplete(_ server: TestServer) async throws -> Int {
        try await server.store.database.withConnection { db in
            try await db.raw("SELECT COUNT(*) AS n FROM label_operations WHERE pending_until IS NOT NULL").first()?
                .decode(column: "n", as: Int.self) ?? -1
        }
    }

    @Test(
        "a bulk change applied in chunks is all or nothing: a failure after two chunks reverses them before answering",
        arguments: TestDatabase.enabled)
    func chunkFailure(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: 12 robins, changed 5 photos a write transaction
            let project = try await server.createProject("chunked garden", labelSet: ["robin", "sparrow", "wren"])
            let robins = try await Self.garden(server, project, seed: 400)
            let original = try await Self.labelRows(server, project)
            let actor = AuditLog.template(as: .system("test"), .labelChanged)
            let labels = SQLLabelRepository(database: server.store.database, chunkSize: 5)
            var interrupted = labels
            interrupted.interruption = (afterChunks: 2, reverse: true)
            let failing = interrupted

            // act: the third chunk fails
            await #expect(throws: StoreError.self) {
                _ = try await failing.change(
                    LabelSelection.filter(LabelFilter(label: "robin")), in: project, add: ["sparrow"],
                    remove: ["robin"],
                    recording: actor)
            }

            // check: the labels are exactly as before, and nothing is left incomplete
            #expect(try await Self.labelRows(server, project) == original)
            #expect(try await Self.incomplete(server) == 0)

            // Uninterrupted, the same change goes through in three chunks, and undo restores it.
            let outcome = try await labels.change(
                .images(robins), in: project, add: ["sparrow"], remove: ["robin"], recording: actor)
            #expect(outcome.changed == 12 && outcome.sha256s == robins.sorted())
            #expect(try await server.store.labels.counts(projectID: project) == ["sparrow": 12, "wren": 3])
            #expect(try await Self.incomplete(server) == 0)
            _ = try await labels.undo(try #require(outcome.operation), in: project, recording: actor)
            #expect(try await Self.labelRows(server, project) == original)
        }
    }

    @Test(
        "a bulk change its process left half-way is reversed by recovery once its lease lapsed; an edit made since stands",
        arguments: TestDatabase.enabled)
    func chunkRecovery(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: the first chunk of 5 applied, then the process "dies"
            let project = try await server.createProject("abandoned garden", labelSet: ["robin", "sparrow", "wren"])
            let robins = try await Self.garden(server, project, seed: 450).sorted()
            let original = try await Self.labelRows(server, project)
            let actor = AuditLog.template(as: .system("test"), .labelChanged)
            var interrupted = SQLLabelRepository(database: server.store.database, chunkSize: 5)
            interrupted.interruption = (afterChunks: 1, reverse: false)
            let dying = interrupted
            await #expect(throws: StoreError.self) {
                _ = try await dying.change(
                    LabelSelection.filter(LabelFilter(label: "robin")), in: project, add: ["sparrow"],
                    remove: ["robin"],
                    recording: actor)
            }
            #expect(try await server.store.labels.counts(projectID: project) == ["robin": 7, "sparrow": 5, "wren": 3])
            #expect(try await Self.incomplete(server) == 1)
            let operation = try #require(try await server.store.labels.latestOperation(in: project))
            // Meanwhile an editor corrects one of the photos the chunk changed.
            _ = try await server.store.labels.set(
                ["wren"], on: robins[0], in: project, ifVersion: nil, recording: actor)
            // An undo of a change still being applied is refused.
            await #expect(throws: StoreError.self) {
                try await server.store.labels.undo(operation, in: project, recording: actor)
            }

            // act: recovery before the lease lapsed leaves it (it may still be running); after, reverses it
            #expect(try await server.store.labels.recover(now: Date(), recording: actor) == [])
            let reversed = try await server.store.labels.recover(now: Date().addingTimeInterval(120), recording: actor)

            // check: every photo as before but the one edited since, which keeps its edit
            #expect(reversed == [operation])
            #expect(try await Self.incomplete(server) == 0)
            let expected = original.map {
                $0.hasPrefix(robins[0]) ? "\(robins[0]) wren human" : $0
            }
            #expect(try await Self.labelRows(server, project) == expected)
            #expect(try await server.store.labels.recover(now: Date().addingTimeInterval(120), recording: actor) == [])
        }
    }

    @Test(
        "the learner follows a correction at once: the photo leaves the class it lost and joins the one it gained; undo puts it back",
        arguments: TestDatabase.enabled)
    func learnerFollows(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: three robins and three sparrows with stored embeddings; the third "robin" is a sparrow
            let project = try await server.createProject("learning birds", labelSet: ["robin", "sparrow"])
            let model = "label-test-embedder"
            let vectors: [[Float]] = [
                [1, 0.1, 0, 0], [0.9, 0.2, 0, 0], [0.1, 1, 0, 0],  // robin, robin, a sparrow labelled robin
                [0, 1, 0.1, 0], [0.1, 0.9, 0, 0], [0, 1, 0, 0.2],  // sparrows
            ]
            var photos: [(sha256: String, label: String, vector: [Float])] = []
            for (index, vector) in vectors.enumerated() {
                let label = index < 3 ? "robin" : "sparrow"
                let upload = try await server.upload(
                    try Fixtures.jpeg(width: 40, height: 30, seed: 300 + index), to: project, labels: [label])
                let sha256 = try #require(try upload.json()["sha256"] as? String)
                _ = try await server.store.analyses.save(
                    Analysis(sha256: sha256, model: model, result: "{}", createdAt: Date()), labels: [],
                    embedding: vector, moderation: nil)
                photos.append((sha256, label, vector))
            }
            try await Self.teach(server, project: project, model: model, photos)
            func classes() async throws -> [String: LearnerClassRecord] {
                Dictionary(
                    uniqueKeysWithValues: try await server.store.learning.classes(projectID: project, names: nil).map {
                        ($0.name, $0)
                    })
            }
            func expectSum(_ record: LearnerClassRecord?, of members: [[Float]]) {
                let expected = members.map(IncrementalLearner.normalised).reduce(
                    [Double](repeating: 0, count: 4)
                ) { sum, unit in zip(sum, unit).map(+) }
                #expect(record?.count == members.count)
                #expect(zip(record?.sum ?? [], expected).allSatisfy { abs($0 - $1) < 1e-9 }, "\(record?.sum ?? [])")
            }

            // act: the wrong robin is corrected to sparrow
            let beforeCorrection = Date()
            try await Task.sleep(for: .milliseconds(5))
            let path = "/api/v1/projects/\(project)/images/\(photos[2].sha256)/labels"
            let corrected = try Self.decode(
                ImageLabels.self, try await server.send(.put, path, json: ["labels": ["sparrow"]]))
            // check: the robin class is the two real robins, the sparrows gained it, exactly
            var now = try await classes()
            expectSum(now["robin"], of: [vectors[0], vectors[1]])
            expectSum(now["sparrow"], of: [vectors[3], vectors[4], vectors[5], vectors[2]])
            let members = try await server.store.learning.members(projectID: project)
            #expect(members.contains { $0.name == "sparrow" && $0.sha256 == photos[2].sha256 })
            #expect(!members.contains { $0.name == "robin" && $0.sha256 == photos[2].sha256 })
            // A head trained before the correction has one photo it has not seen; an evaluation now
            // records the correction as the labels it used.
            #expect(try await server.store.labels.changedSince(beforeCorrection, in: project) == 1)
            #expect(try await server.store.labels.changedSince(Date(), in: project) == 0)
            #expect(try await server.store.labels.latestOperation(in: project) == corrected.operation.map(Int64.init))

            // Undo puts it back where it was.
            let undone = try await server.send(
                .post, "/api/v1/projects/\(project)/labels/undo", json: ["operation": try #require(corrected.operation)]
            )
            #expect(undone.status == .ok, "\(undone.text)")
            now = try await classes()
            expectSum(now["robin"], of: [vectors[0], vectors[1], vectors[2]])
            expectSum(now["sparrow"], of: [vectors[3], vectors[4], vectors[5]])
        }
    }
}
