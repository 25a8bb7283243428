import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisClient
import IrisCore
import IrisML
import IrisServices
import IrisStore
import IrisTesting
import NIOCore
import SQLKit
import Testing

/// Review of contributions: uploads through a link wait as `pending`, hidden from viewers and
/// used by nothing until an editor accepts them; the queue comes with suggestions and a
/// `suspect` order; decisions are one transaction and teach the learner.
@Suite("Review of contributions")
struct ReviewTests {
    typealias Queue = Components.Schemas.ReviewQueue

    /// A link upload of a fixture photo with a label.
    static func linkUpload(_ server: TestServer, code: String, seed: Int, label: String) async throws -> String {
        var form = MultipartForm()
        form.addFile("file", fileName: "crowd-\(seed).jpg", data: try Fixtures.jpeg(width: 48, height: 36, seed: seed))
        form.addField("label", label)
        let response = try await server.acting(as: [:]).post(
            "/api/v1/links/\(code)/images", body: form.body, contentType: form.contentType)
        #expect(response.status == .created, "\(response.text)")
        return try #require(try response.json()["sha256"] as? String)
    }

    static func viewerToken(_ server: TestServer, project: Int64, name: String) async throws -> String {
        let user = try await server.store.accounts.createUser(username: name, passwordHash: "x", isAdmin: false)
        try await server.store.accounts.setRole(projectID: project, userID: user.id, .viewer)
        return try await TestAccounts.token(for: user, scopes: [.read, .write], in: server.store)
    }

    @Test(
        "link uploads wait for review, seen by editors only and used by no export or merge; decisions are all or nothing and evented",
        arguments: TestDatabase.enabled)
    func pendingUntilDecided(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: review on for links; an owner's photo and three crowd photos
            let project = try await server.createProject("crowd birds", labelSet: ["robin", "sparrow"])
            let patched = try await server.send(.patch, "/api/v1/projects/\(project)", json: ["review": "links"])
            #expect(try patched.json()["review"] as? String == "links")
            let own = try #require(
                try await server.upload(
                    try Fixtures.jpeg(width: 48, height: 36, seed: 700), to: project, labels: ["robin"]
                ).json()["sha256"] as? String)
            let link = try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "garden"])
            let code = try #require(try link.json()["code"] as? String)
            var crowd: [String] = []
            for seed in 701...703 {
                crowd.append(try await Self.linkUpload(server, code: code, seed: seed, label: "robin"))
            }

            // What trains and tests (the learner's classes, heads, evaluations) reads labelled
            // embeddings: only the owner's accepted photo is among them.
            let model = "review-embedder"
            for sha256 in [own] + crowd {
                _ = try await server.store.analyses.save(
                    Analysis(sha256: sha256, model: model, result: "{}", createdAt: Date()), labels: [],
                    embedding: [1, 0, 0], moderation: nil)
            }
            func trainingSet() async throws -> Set<String> {
                Set(try await server.store.learning.labelledEmbeddings(projectID: project, model: model).map(\.sha256))
            }
            #expect(try await trainingSet() == [own])
            #expect(try await server.store.learning.labelledSHA256s(projectID: project, label: "robin") == [own])

            // check: editors see them pending, in the queue, with the link's name
            let queue = try LabelEditTests.decode(
                Queue.self, try await server.get("/api/v1/projects/\(project)/review?order=newest"))
            #expect(queue.items.map(\.sha256) == crowd.reversed())
            #expect(queue.items.allSatisfy { $0.review == .pending && $0.link == "garden" && $0.labels == ["robin"] })
            #expect(queue.counts.additionalProperties == ["pending": 3, "accepted": 1, "rejected": 0])
            // Viewers see the accepted photo only: in the gallery and by hash.
            let viewer = TestServer.bearer(try await Self.viewerToken(server, project: project, name: "onlooker"))
            let seen = try await server.acting(as: viewer).get("/api/v1/projects/\(project)/images").json()
            #expect((seen["items"] as? [[String: Any]])?.compactMap { $0["sha256"] as? String } == [own])
            #expect(try await server.acting(as: viewer).get("/api/v1/images/\(crowd[0])").status == .notFound)
            #expect(try await server.acting(as: viewer).get("/api/v1/projects/\(project)/review").status == .forbidden)
            // Nor do the events name them: the uploads of waiting photos are the editors' to see.
            func subjects(_ headers: HTTPFields) async throws -> Set<String> {
                let page = try await server.acting(as: headers).get("/api/v1/events?limit=1000").json()
                return Set((page["items"] as? [[String: Any]] ?? []).compactMap { $0["subject"] as? String })
            }
            let viewerSees = try await subjects(viewer)
            #expect(viewerSees.contains(own) && viewerSees.isDisjoint(with: crowd))
            #expect(try await subjects(server.identity).isSuperset(of: crowd))
            // No merge takes a waiting photo.
            let merge = try await server.send(
                .post, "/api/v1/projects/\(project)/duplicates/merge", json: ["keep": own, "remove": [crowd[0]]])
            #expect(merge.status == .conflict && merge.text.contains("pending"), "\(merge.text)")

            // Refusals decide nothing: an unknown photo, labels on a reject, a label outside the set.
            let before = try await server.rowCounts()
            let stranger = String(repeating: "e", count: 64)
            for (decisions, status, words) in [
                (
                    [["sha256": crowd[0], "action": "accept"], ["sha256": stranger, "action": "reject"]], 404,
                    String(stranger.prefix(12))
                ),
                ([["sha256": crowd[0], "action": "reject", "labels": ["robin"]]], 400, "labels go with accept"),
                ([["sha256": crowd[0], "action": "accept", "labels": ["eagle"]]], 400, "eagle"),
            ] as [([[String: Any]], Int, String)] {
                let response = try await server.send(
                    .post, "/api/v1/projects/\(project)/review", json: ["decisions": decisions])
                #expect(Int(response.status.code) == status && response.text.contains(words), "\(response.text)")
            }
            #expect(try await server.rowCounts() == before)

            // act: accept one as a sparrow, accept one as is, reject one
            let decided = try await server.send(
                .post, "/api/v1/projects/\(project)/review",
                json: [
                    "decisions": [
                        ["sha256": crowd[0], "action": "accept", "labels": ["sparrow"]],
                        ["sha256": crowd[1], "action": "accept"], ["sha256": crowd[2], "action": "reject"],
                    ]
                ])
            // check
            #expect(decided.status == .ok, "\(decided.text)")
            #expect(try decided.json()["decided"] as? Int == 3 && (try decided.json()["operation"] as? Int) != nil)
            let after = try LabelEditTests.decode(
                Queue.self, try await server.get("/api/v1/projects/\(project)/review?review=accepted"))
            #expect(Set(after.items.map(\.sha256)) == Set([own, crowd[0], crowd[1]]))
            #expect(after.items.first { $0.sha256 == crowd[0] }?.labels == ["sparrow"])
            #expect(after.counts.additionalProperties == ["pending": 0, "accepted": 3, "rejected": 1])
            #expect(try await trainingSet() == [own, crowd[0], crowd[1]])
            let shown = try await server.acting(as: viewer).get("/api/v1/projects/\(project)/images").json()
            #expect((shown["items"] as? [[String: Any]])?.count == 3)
            let events = try await server.store.events.list(afterID: 0, projectIDs: [project], limit: 1000)
            #expect(events.filter { $0.action == "review.decided" }.count == 3)
            #expect(
                events.contains {
                    $0.action == "review.decided" && $0.subject == crowd[2] && $0.detail["decision"] == "rejected"
                })

            // The export takes accepted photos only (review is on), or all when asked.
            let path = "/api/v1/projects/\(project)/exports"
            let csv = try await server.send(.post, path, json: ["format": "csv"])
            try await server.settle()
            let accepted = try ExportTests.entries(
                try await server.get(try #require(csv.headers[.location])).data, reading: "labels.csv")
            #expect(!(accepted.text ?? "").contains(crowd[2]) && (accepted.text ?? "").contains(crowd[0]))
            let everything = try await server.send(.post, path, json: ["format": "csv", "review": "all"])
            try await server.settle()
            let all = try ExportTests.entries(
                try await server.get(try #require(everything.headers[.location])).data, reading: "labels.csv")
            #expect((all.text ?? "").contains(crowd[2]))

            // A rejected photo leaves the project once its retention has passed.
            let rejected = crowd[2]
            try await server.store.database.withConnection { db in
                try await db.raw(
                    "UPDATE project_images SET decided_at = 1000 WHERE project_id = \(bind: project) AND sha256 = \(bind: rejected)"
                ).run()
            }
            let cleanup = try await server.send(.post, "/api/v1/jobs", json: ["kind": "maintenance.cleanup"])
            let job = try await server.waitForJob(
                Int64(try #require(try cleanup.json()["id"] as? Int)), in: [.succeeded])
            #expect(job.result?.contains(#""expired_rejections":1"#) == true, "\(job.result ?? "")")
            #expect(try await server.store.images.member(sha256: crowd[2], of: project) == nil)
        }
    }

    @Test(
        "the suspect order puts the labels the learner doubts first; accepting teaches the learner, waiting photos never do",
        arguments: TestDatabase.enabled)
    func suspectFirst(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: a learner of robins and sparrows over stored embeddings
            let project = try await server.createProject("doubtful birds", labelSet: ["robin", "sparrow"])
            _ = try await server.send(.patch, "/api/v1/projects/\(project)", json: ["review": "links"])
            let model = "review-test-embedder"
            func embed(_ sha256: String, _ vector: [Float]) async throws {
                _ = try await server.store.analyses.save(
                    Analysis(sha256: sha256, model: model, result: "{}", createdAt: Date()), labels: [],
                    embedding: vector, moderation: nil)
            }
            var known: [(sha256: String, label: String, vector: [Float])] = []
            for (index, vector) in [[Float(1), 0.1, 0], [0.9, 0.2, 0], [0.1, 1, 0], [0, 0.9, 0.1]].enumerated() {
                let label = index < 2 ? "robin" : "sparrow"
                let sha256 = try #require(
                    try await server.upload(
                        try Fixtures.jpeg(width: 48, height: 36, seed: 800 + index), to: project, labels: [label]
                    ).json()["sha256"] as? String)
                try await embed(sha256, vector)
                known.append((sha256, label, vector))
            }
            try await LabelEditTests.teach(server, project: project, model: model, known)
            // Three crowd photos labelled robin: one robin-like, one sparrow-like, one in between.
            let code = try #require(
                try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "crowd"]).json()[
                    "code"]
                    as? String)
            var crowd: [String] = []
            for (seed, vector) in [(810, [Float(1), 0.05, 0]), (811, [0.05, 1, 0]), (812, [0.7, 0.7, 0])] {
                let sha256 = try await Self.linkUpload(server, code: code, seed: seed, label: "robin")
                try await embed(sha256, vector)
                crowd.append(sha256)
            }
            // A waiting photo joins no class, even with its embedding stored.
            #expect(try await server.store.learning.members(projectID: project).count == 4)

            // act
            let suspect = try LabelEditTests.decode(
                Queue.self, try await server.get("/api/v1/projects/\(project)/review?order=suspect"))
            // check: the sparrow-like "robin" first, the robin-like last; suggestions from the learner
            #expect(suspect.items.map(\.sha256) == [crowd[1], crowd[2], crowd[0]])
            let doubted = try #require(suspect.items.first)
            #expect(doubted.suggestions.first?.label == "sparrow" && doubted.suggestions.first?.source == "learner")
            #expect((doubted.labelConfidence ?? 1) < 0.5)
            #expect(suspect.items.last?.suggestions.first?.label == "robin")
            #expect(suspect.items.allSatisfy { $0.suggestions.count <= 3 })

            // Accepting the doubted one as a sparrow teaches the learner at once.
            let decided = try await server.send(
                .post, "/api/v1/projects/\(project)/review",
                json: ["decisions": [["sha256": crowd[1], "action": "accept", "labels": ["sparrow"]]]])
            #expect(decided.status == .ok, "\(decided.text)")
            let learned = try await server.store.learning.members(projectID: project)
            #expect(learned.contains { $0.name == "sparrow" && $0.sha256 == crowd[1] })
            #expect(learned.count == 5)
            let classes = try await server.store.learning.classes(projectID: project, names: ["sparrow"])
            #expect(classes.first?.count == 3)
        }
    }

    @Test(
        "the active trained head suggests labels, each label once at its best confidence and saying where it came from",
        arguments: TestDatabase.enabled)
    func headSuggestions(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: a project without a learner, a head over a stored embedding made active, and
            // a crowd photo that looks like a sparrow to the head and like a robin to MobileNetV2
            let project = try await server.createProject("headed birds", labelSet: ["robin", "sparrow"])
            _ = try await server.send(.patch, "/api/v1/projects/\(project)", json: ["review": "links"])
            let code = try #require(
                try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "crowd"]).json()[
                    "code"]
                    as? String)
            let sha256 = try await Self.linkUpload(server, code: code, seed: 950, label: "robin")
            let model = "review-head-embedder"
            _ = try await server.store.analyses.save(
                Analysis(sha256: sha256, model: model, result: "{}", createdAt: Date()), labels: [],
                embedding: [0.1, 1, 0], moderation: nil)
            _ = try await server.store.analyses.save(
                Analysis(sha256: sha256, model: "mobilenet-v2", result: "{}", createdAt: Date()),
                labels: [("robin, American robin, Turdus migratorius", 0.3)], embedding: nil, moderation: nil)
            // What activating a head stores: its labels under its own name, not an automatic model's.
            _ = try await server.store.analyses.save(
                Analysis(sha256: sha256, model: "project-\(project)-classifier", result: "{}", createdAt: Date()),
                labels: [("robin", 0.97)], embedding: nil, moderation: nil)
            let before = try LabelEditTests.decode(
                Queue.self, try await server.get("/api/v1/projects/\(project)/review"))
            #expect(before.items.first?.suggestions.map(\.source) == ["model"])
            let parameters: [String: Any] = [
                "classes": ["robin", "sparrow"], "dimension": 3, "mean": [0, 0, 0],
                "weights": [8, 0, 0, 0, 8, 0], "bias": [0, 0],
            ]
            let record = try await server.store.learning.addClassifier(
                ClassifierRecord(
                    projectID: project, model: model, classes: ["robin", "sparrow"],
                    parameters: String(decoding: try JSONSerialization.data(withJSONObject: parameters), as: UTF8.self),
                    report: "{}", jobID: nil, createdAt: Date()))
            #expect(try await server.store.learning.activate(projectID: project, version: record.version))

            // act
            let queue = try LabelEditTests.decode(
                Queue.self, try await server.get("/api/v1/projects/\(project)/review"))

            // check: the head's sparrow first, at its softmax; robin once, from the model's 0.3
            // (above the head's robin); nothing from the head's stored labels
            let suggestions = try #require(queue.items.first?.suggestions)
            let head = try LearningService.head(record)
            let expected = head.predict([0.1, 1, 0])
            #expect(suggestions.map(\.label) == ["sparrow", "robin"], "\(suggestions)")
            #expect(suggestions.map(\.source) == ["head", "model"], "\(suggestions)")
            #expect(abs(suggestions[0].confidence - expected[1]) < 1e-6 && expected[1] > 0.99)
            #expect(abs(suggestions[1].confidence - 0.3) < 1e-6)
        }
    }

    @Test("an automatic model's label reaches the project's label above it in WordNet, as a suggestion")
    func modelSuggestionThroughWordNet() async throws {
        try await TestServer.with(.sqlite) { server in
            let project = try await server.createProject("garden life", labelSet: ["bird", "vehicle"])
            _ = try await server.send(.patch, "/api/v1/projects/\(project)", json: ["review": "links"])
            let code = try #require(
                try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "crowd"]).json()[
                    "code"]
                    as? String)
            let sha256 = try await Self.linkUpload(server, code: code, seed: 900, label: "vehicle")
            // What MobileNetV2 would store for a robin: no label of the project by name.
            _ = try await server.store.analyses.save(
                Analysis(sha256: sha256, model: "mobilenet-v2", result: "{}", createdAt: Date()),
                labels: [("robin, American robin, Turdus migratorius", 0.83)], embedding: nil, moderation: nil)
            let queue = try LabelEditTests.decode(
                Queue.self, try await server.get("/api/v1/projects/\(project)/review"))
            let suggestion = try #require(queue.items.first?.suggestions.first)
            #expect(
                suggestion.label == "bird" && suggestion.source == "model" && abs(suggestion.confidence - 0.83) < 1e-6)
        }
    }

    @Test(
        "the review page opens in the useful order once 20 accepted photos have no label, counted with the pending",
        arguments: TestDatabase.enabled)
    func reviewPageOpensUseful(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: a labelled photo and 19 without a label, then the 20th
            let project = try await server.createProject("unlabelled birds", labelSet: ["robin", "sparrow"])
            _ = try await server.upload(
                try Fixtures.jpeg(width: 40, height: 30, seed: 1_000), to: project, labels: ["robin"])
            for seed in 1_001..<1_020 {
                _ = try await server.upload(
                    try Fixtures.jpeg(width: 40, height: 30, seed: seed), to: project, labels: [])
            }
            let fewer = try await server.get("/projects/\(project)/review", headers: PageTests.html)
            _ = try await server.upload(try Fixtures.jpeg(width: 40, height: 30, seed: 1_020), to: project, labels: [])

            // act
            let page = try await server.get("/projects/\(project)/review", headers: PageTests.html)
            let queue = try await server.get("/api/v1/projects/\(project)/review?order=useful&limit=5")

            // check: the order chosen, and the count the page shows "left" from
            #expect(fewer.status == .ok && page.status == .ok, "\(page.text)")
            #expect(fewer.text.contains(#"<option value="suspect" selected>"#))
            #expect(page.text.contains(#"<option value="useful" selected>"#), "\(page.text)")
            #expect(!page.text.contains(#"<option value="suspect" selected>"#))
            #expect(queue.status == .ok, "\(queue.text)")
            let counts = try #require(try queue.json()["counts"] as? [String: Int])
            #expect(counts["unlabelled"] == 20 && counts["pending"] == 0)
            #expect((try queue.json()["items"] as? [[String: Any]])?.count == 5)
            let newest = try await server.get("/api/v1/projects/\(project)/review").json()
            #expect((newest["counts"] as? [String: Int])?["unlabelled"] == nil)
        }
    }
}
