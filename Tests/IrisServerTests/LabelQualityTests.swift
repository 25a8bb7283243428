import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisClient
import IrisCore
import IrisML
import IrisServices
import IrisStore
import IrisTesting
import Testing

/// The label check (`GET …/label-issues`) and the `useful` review order, over stored embeddings
/// in three dimensions: robins near one axis, sparrows near another, vehicles on the third.
@Suite("Label check and label next")
struct LabelQualityTests {
    static let model = "label-check-embedder"

    /// A photo uploaded with `labels` (none: unlabelled) and the embedding `vector`.
    static func photo(
        _ server: TestServer, project: Int64, seed: Int, labels: [String], vector: [Float]
    ) async throws -> String {
        let sha256 = try #require(
            try await server.upload(
                try Fixtures.jpeg(width: 40, height: 30, seed: seed), to: project, labels: labels
            ).json()["sha256"] as? String)
        _ = try await server.store.analyses.save(
            Analysis(sha256: sha256, model: model, result: "{}", createdAt: Date()), labels: [], embedding: vector,
            moderation: nil)
        return sha256
    }

    /// A vector near `axis` (0, 1 or 2), moved a little by `seed`.
    static func near(_ axis: Int, _ seed: Int) -> [Float] {
        var vector: [Float] = [0.1, 0.1, 0.1].enumerated().map { index, base in
            base + Float((seed * (index + 3)) % 7) * 0.02
        }
        vector[axis] = 1
        return vector
    }

    /// Six robins (one of them really a sparrow), six sparrows, taught to the learner.
    static func birds(_ server: TestServer, project: Int64) async throws -> (
        known: [(sha256: String, label: String, vector: [Float])], mistake: String
    ) {
        var known: [(sha256: String, label: String, vector: [Float])] = []
        for index in 0..<12 {
            let label = index < 6 ? "robin" : "sparrow"
            // Photo 5 is labelled robin but looks like the sparrows.
            let vector = near(index < 5 ? 0 : 1, index)
            let sha256 = try await photo(server, project: project, seed: 700 + index, labels: [label], vector: vector)
            known.append((sha256, label, vector))
        }
        try await LabelEditTests.teach(server, project: project, model: model, known)
        return (known, known[5].sha256)
    }

    /// A contributor's photo through link `code`, labelled `label`, with the embedding `vector`;
    /// rejected by the owner when `reject`, else left waiting.
    static func contributed(
        _ server: TestServer, project: Int64, code: String, seed: Int, label: String, vector: [Float], reject: Bool
    ) async throws -> String {
        let sha256 = try await ReviewTests.linkUpload(server, code: code, seed: seed, label: label)
        _ = try await server.store.analyses.save(
            Analysis(sha256: sha256, model: model, result: "{}", createdAt: Date()), labels: [], embedding: vector,
            moderation: nil)
        if reject {
            let decided = try await server.send(
                .post, "/api/v1/projects/\(project)/review",
                json: ["decisions": [["sha256": sha256, "action": "reject"]]])
            #expect(decided.status == .ok, "\(decided.text)")
        }
        return sha256
    }

    @Test(
        "the label check finds the wrong label with its fix, ignores waiting and rejected photos, and is kept until labels change",
        arguments: TestDatabase.enabled)
    func wrongLabelFound(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup
            let project = try await server.createProject("checked birds", labelSet: ["robin", "sparrow"])
            let (_, mistake) = try await Self.birds(server, project: project)
            _ = try await server.send(.patch, "/api/v1/projects/\(project)", json: ["review": "links"])
            let code = try #require(
                try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "crowd"]).json()[
                    "code"] as? String)
            // A waiting and a rejected contribution, labelled robin but sparrow-like: neither is
            // judged, nor a neighbour, nor counted.
            let waiting = try await Self.contributed(
                server, project: project, code: code, seed: 790, label: "robin", vector: Self.near(1, 3), reject: false)
            let rejected = try await Self.contributed(
                server, project: project, code: code, seed: 791, label: "robin", vector: Self.near(1, 4), reject: true)

            // act
            let first = try await server.get("/api/v1/projects/\(project)/label-issues")

            // check
            #expect(first.status == .ok, "\(first.text)")
            let report = try first.json()
            #expect(report["state"] as? String == "ready")
            #expect(report["stale"] as? Bool == false)
            #expect(report["labelled"] as? Int == 12)
            let issues = try #require(report["issues"] as? [[String: Any]])
            let top = try #require(issues.first)
            #expect(top["sha256"] as? String == mistake)
            #expect(top["label"] as? String == "robin")
            #expect(top["suggested"] as? String == "sparrow")
            #expect(top["likely"] as? Bool == true)
            let neighbours = try #require(top["neighbours"] as? [[String: Any]])
            #expect(neighbours.first?["labels"] as? [String] == ["sparrow"])
            #expect(!first.text.contains(waiting) && !first.text.contains(rejected))
            // Two classes of six photos: too few to draw the project's own learning curve, so
            // the photo set's tells how many would help.
            let size = try #require(report["class_size"] as? [String: Any])
            #expect(size["source"] as? String == "photo set")
            let enough = try #require(LearningCurve.enough(LearningCurve.photoSet))
            #expect(size["enough"] as? Int == enough)
            #expect((size["curve"] as? [[String: Any]])?.count == LearningCurve.sizes.count)
            // Six photos each: small when the curve levels off later, by what it lacks.
            let small = try #require(report["small_classes"] as? [[String: Any]])
            #expect(Set(small.compactMap { $0["label"] as? String }) == (6 < enough ? ["robin", "sparrow"] : []))
            #expect(small.allSatisfy { $0["photos"] as? Int == 6 && $0["needed"] as? Int == enough - 6 })

            // Fixing the label leaves the kept report stale, with a job computing the next.
            let fixed = try await server.send(
                .put, "/api/v1/projects/\(project)/images/\(mistake)/labels", json: ["labels": ["sparrow"]])
            #expect(fixed.status == .ok, "\(fixed.text)")
            let stale = try await server.get("/api/v1/projects/\(project)/label-issues").json()
            #expect(stale["stale"] as? Bool == true)
            let jobID = try #require(stale["job_id"] as? Int)
            let job = try #require(try await server.store.jobs.find(id: Int64(jobID)))
            #expect(job.kind == ProjectReportJob.kind && job.projectID == project)

            // The job's report no longer lists the fixed photo first.
            _ = try await server.waitForJob(Int64(jobID), in: [.succeeded])
            let fresh = try await server.get("/api/v1/projects/\(project)/label-issues").json()
            #expect(fresh["stale"] as? Bool == false)
            let after = try #require(fresh["issues"] as? [[String: Any]])
            #expect(after.first?["sha256"] as? String != mistake)
            #expect((fresh["likely"] as? Int) == 0)
        }
    }

    @Test(
        "three classes of 24 photos draw the project's own learning curve, and a class of 2 is measured against it",
        arguments: TestDatabase.enabled)
    func ownLearningCurve(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: robins, sparrows and vehicles, 24 each on their own axis; two wrens off them
            let project = try await server.createProject(
                "many birds", labelSet: ["robin", "sparrow", "vehicle", "wren"])
            var known: [(sha256: String, label: String, vector: [Float])] = []
            for index in 0..<74 {
                let (label, vector): (String, [Float]) =
                    index < 72
                    ? (["robin", "sparrow", "vehicle"][index % 3], Self.near(index % 3, index))
                    : ("wren", [1, 1, 0.2 * Float(index - 72)])
                let sha256 = try await Self.photo(
                    server, project: project, seed: 2_000 + index, labels: [label], vector: vector)
                known.append((sha256, label, vector))
            }
            try await LabelEditTests.teach(server, project: project, model: Self.model, known)

            // act
            let report = try await server.get("/api/v1/projects/\(project)/label-issues").json()

            // check: the project's curve, levelled off at once (the classes are apart), so the
            // wren's 2 photos are enough here, where the photo set's curve would ask for more
            let size = try #require(report["class_size"] as? [String: Any])
            #expect(size["source"] as? String == "project")
            let curve = try #require(size["curve"] as? [[String: Any]])
            #expect(curve.compactMap { $0["photos"] as? Int } == LearningCurve.sizes)
            #expect(curve.first?["accuracy"] as? Double == 1)
            #expect(size["enough"] as? Int == 1)
            #expect((report["small_classes"] as? [[String: Any]])?.isEmpty == true)
            #expect(try #require(LearningCurve.enough(LearningCurve.photoSet)) > 2)
        }
    }

    @Test("another project's token gets 404 and an unknown limit a 400, with nothing computed")
    func refusals() async throws {
        try await TestServer.with(.sqlite) { server in
            let project = try await server.createProject("private birds", labelSet: ["robin"])
            let other = try await server.createProject("other birds")
            let alice = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "alice", password: "alice-password", isAdmin: false)
            try await server.store.accounts.setRole(projectID: other, userID: alice.id, .owner)
            let token = try await TestAccounts.token(for: alice, scopes: [.read], projectID: other, in: server.store)
            let foreign = try await server.acting(as: TestServer.bearer(token)).get(
                "/api/v1/projects/\(project)/label-issues")
            #expect(foreign.status == .notFound, "\(foreign.text)")
            let wrong = try await server.get("/api/v1/projects/\(project)/label-issues?limit=0")
            #expect(wrong.status == .badRequest)
            #expect(try wrong.json()["detail"] as? String == "limit must be a whole number from 1 to 500, not \"0\"")
            #expect(try await server.store.reports.load(projectID: project, kind: LabelQuality.kind) == nil)
        }
    }

    @Test(
        "label next lists photos without a label and waiting ones, the uncovered kind first, reading no waiting or rejected label",
        arguments: TestDatabase.enabled)
    func usefulOrder(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: taught robins and sparrows; unlabelled robins, sparrows and three vehicles
            let project = try await server.createProject("label next", labelSet: ["robin", "sparrow", "vehicle"])
            let (known, _) = try await Self.birds(server, project: project)
            _ = try await server.send(.patch, "/api/v1/projects/\(project)", json: ["review": "links"])
            let code = try #require(
                try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "crowd"]).json()[
                    "code"] as? String)
            // Vehicles labelled by contributors, one waiting and one rejected: were their labels
            // read, vehicles would count as covered and not come first.
            let waiting = try await Self.contributed(
                server, project: project, code: code, seed: 780, label: "vehicle", vector: Self.near(2, 30),
                reject: false)
            let rejected = try await Self.contributed(
                server, project: project, code: code, seed: 781, label: "vehicle", vector: Self.near(2, 31),
                reject: true)
            var vehicles: Set<String> = [waiting]
            var unlabelled: Set<String> = []
            for index in 0..<7 {
                let axis = index < 2 ? 0 : index < 4 ? 1 : 2
                let sha256 = try await Self.photo(
                    server, project: project, seed: 760 + index, labels: [], vector: Self.near(axis, index + 20))
                unlabelled.insert(sha256)
                if axis == 2 { vehicles.insert(sha256) }
            }

            // act
            let answer = try await server.get("/api/v1/projects/\(project)/review?order=useful&limit=50")

            // check: every unlabelled photo and the waiting one once, no labelled or rejected one;
            // a vehicle first; counted with the pending
            #expect(answer.status == .ok, "\(answer.text)")
            let items = try #require(try answer.json()["items"] as? [[String: Any]])
            let listed = items.compactMap { $0["sha256"] as? String }
            #expect(Set(listed) == unlabelled.union([waiting]) && listed.count == unlabelled.count + 1)
            #expect(!listed.contains(rejected))
            let counts = try #require(try answer.json()["counts"] as? [String: Int])
            #expect(counts["unlabelled"] == unlabelled.count && counts["pending"] == 1)
            #expect(Set(listed).isDisjoint(with: known.map(\.sha256)))
            #expect(vehicles.contains(listed.first ?? ""))
            let few = try await server.get("/api/v1/projects/\(project)/review?order=useful&limit=1")
            let firstOfFew = try #require(try few.json()["items"] as? [[String: Any]]).compactMap {
                $0["sha256"] as? String
            }
            #expect(firstOfFew.count == 1 && vehicles.contains(firstOfFew[0]))
        }
    }
}
