import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisML
import IrisServer
import IrisServices
import IrisStore
import IrisTesting
import Testing

/// The photo-analysis API on real models: one job per (image, model), results by hash.
@Suite struct AnalysisAPITests {
    static func photo(_ name: String) throws -> Data { try Data(contentsOf: TestModels.photo(name)) }

    static func form(models: String, projectID: Int64?, files: [(String, Data)], sha256s: [String] = [])
        -> MultipartForm
    {
        var form = MultipartForm()
        form.addField("models", models)
        if let projectID { form.addField("project_id", String(projectID)) }
        for sha256 in sha256s { form.addField("sha256", sha256) }
        for (name, data) in files { form.addFile("file", fileName: name, data: data) }
        return form
    }

    /// Waits until every model named in the analysis has a result or has failed.
    static func results(_ server: TestServer, _ sha256: String, models: [String]) async throws -> [String: [String:
        Any]]
    {
        try await server.settle(timeout: 60)
        let body = try await server.get("/api/v1/analyses/\(sha256)").json()
        let statuses = try #require(body["models"] as? [String: [String: Any]])
        // The models derived from those asked for are made by the same analysis.
        let derived = try models.flatMap { try TestModels.registry().derived(from: $0).map(\.name) }
        #expect(Set(statuses.keys) == Set(models + derived))
        return statuses
    }

    @Test(
        "a cat and a broken file: the cat is labelled and embedded, the broken file gets its own 4xx",
        arguments: TestDatabase.enabled)
    func analyses(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("analyses")
            let form = Self.form(
                models: "mobilenet-v2,open-nsfw", projectID: project,
                files: [("chelsea.png", try Self.photo("chelsea.png")), ("broken.jpg", Data("not a jpeg at all".utf8))])
            let response = try await server.post("/api/v1/analyses", body: form.body, contentType: form.contentType)
            #expect(response.status.code == 207)
            let items = try #require(try response.json()["items"] as? [[String: Any]])
            #expect(items.count == 2)
            let cat = try #require(items.first { $0["file"] as? String == "chelsea.png" })
            let broken = try #require(items.first { $0["file"] as? String == "broken.jpg" })
            let sha256 = try #require(cat["sha256"] as? String)
            let jobs = try #require(cat["jobs"] as? [String: Int])
            #expect(Set(jobs.keys) == ["mobilenet-v2", "open-nsfw"])
            let error = try #require(broken["error"] as? [String: Any])
            #expect((400..<500).contains(error["status"] as? Int ?? 0))
            #expect(broken["jobs"] == nil)

            let statuses = try await Self.results(server, sha256, models: ["mobilenet-v2", "open-nsfw"])
            let mobilenet = try #require(statuses["mobilenet-v2"])
            #expect(mobilenet["state"] as? String == "succeeded")
            let result = try #require(mobilenet["result"] as? [String: Any])
            let labels = try #require(result["labels"] as? [[String: Any]])
            #expect(labels.count == 5)
            let top = try #require(labels.first?["label"] as? String)
            #expect(["tabby", "tiger cat", "Egyptian cat"].contains { top.hasPrefix($0) }, "top label \(top)")
            let embedding = try #require(result["embedding"] as? [String: Any])
            #expect(embedding["dimension"] as? Int == 1280)
            let vector = try await server.get(try #require(embedding["url"] as? String)).json()
            #expect((vector["vector"] as? [Double])?.count == 1280)
            let moderation = try #require(
                (statuses["open-nsfw"]?["result"] as? [String: Any])?["moderation"] as? Double)
            #expect(moderation < 0.2)
            // The image itself carries the score, and the analysis is in the job history.
            #expect(try await server.get("/api/v1/images/\(sha256)").json()["moderation"] as? Double == moderation)
            let job = try await server.get("/api/v1/jobs/\(jobs["mobilenet-v2"]!)").json()
            #expect((job["result"] as? [String: Any])?["embedding_dimension"] as? Int == 1280)

            // Asking again reuses the jobs and their results.
            let again = Self.form(models: "mobilenet-v2", projectID: nil, files: [], sha256s: [sha256])
            let repeated = try await server.post("/api/v1/analyses", body: again.body, contentType: again.contentType)
            #expect(repeated.status == .accepted)
            let repeatedJobs = (try repeated.json()["items"] as? [[String: Any]])?.first?["jobs"] as? [String: Int]
            #expect(repeatedJobs?["mobilenet-v2"] == jobs["mobilenet-v2"])
            let json = try await server.send(
                .post, "/api/v1/analyses", json: ["models": ["open-nsfw"], "images": [sha256]])
            #expect(json.status == .accepted)
            #expect(
                ((try json.json()["items"] as? [[String: Any]])?.first?["jobs"] as? [String: Int])?["open-nsfw"]
                    == jobs["open-nsfw"])
        }
    }

    @Test("unknown models: 400 naming them, and nothing is stored or queued", arguments: TestDatabase.enabled)
    func unknownModels(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("unknown")
            func analysisJobs() async throws -> Int {
                try await server.store.jobs.list(
                    state: nil, kind: "image.analyze", projectIDs: nil, keyPrefix: nil, before: nil, limit: 10
                ).count
            }
            let form = Self.form(
                models: "mobilenet-v2,resnet-9000,clip", projectID: project,
                files: [("chelsea.png", try Self.photo("chelsea.png"))])
            let response = try await server.post("/api/v1/analyses", body: form.body, contentType: form.contentType)
            #expect(response.status == .badRequest)
            #expect(response.headers[.contentType] == "application/problem+json")
            let detail = try #require(try response.json()["detail"] as? String)
            #expect(detail.contains("resnet-9000, clip"))
            #expect(detail.contains("available: efficientnet-lite0, mobilenet-v2, open-nsfw, ppocr-v4"))
            #expect(try await analysisJobs() == 0)
            #expect(try await server.rowCount("images") == 0)
            #expect(server.blobFiles().isEmpty)
            #expect(server.scratchFiles().isEmpty)

            let noProject = Self.form(
                models: "mobilenet-v2", projectID: nil, files: [("chelsea.png", try Self.photo("chelsea.png"))])
            let refused = try await server.post(
                "/api/v1/analyses", body: noProject.body, contentType: noProject.contentType)
            #expect(refused.status == .badRequest)
            #expect(
                try refused.json()["detail"] as? String
                    == "files need a project_id part: new images are stored in that project")
            #expect(server.scratchFiles().isEmpty)

            let missing = try await server.send(
                .post, "/api/v1/analyses",
                json: ["models": ["mobilenet-v2"], "images": [String(repeating: "a", count: 64)]])
            #expect(missing.status == .notFound)
            #expect(try await analysisJobs() == 0)
        }
    }

    @Test("models: the bundled models are listed as available, with their tasks")
    func models() async throws {
        try await TestServer.with(.sqlite) { server in
            let body = try await server.get("/api/v1/models").json()
            let items = try #require(body["items"] as? [[String: Any]])
            #expect(
                items.compactMap { $0["name"] as? String } == [
                    "efficientnet-lite0", "mobilenet-v2", "open-nsfw", "ppocr-v4", "efficientnet-lite0-wordnet",
                    "mobilenet-v2-wordnet",
                ])
            #expect(items.allSatisfy { $0["available"] as? Bool == true })
            #expect(items.first?["tasks"] as? [String] == ["classify", "embed"])
            #expect(body["runtime"] as? String == "ONNX Runtime 1.32.0")
        }
    }

    @Test("models: none is in memory after start; one is loaded by its analysis and released after models.idle_unload")
    func modelsLoadWhenUsed() async throws {
        // setup: an idle time no other test uses, so the server's models are its own
        try await TestServer.with(.sqlite, configure: { $0.models.idleUnload = 10.5 }) { server in
            func loaded() async throws -> [String: Bool] {
                let items = try #require(try await server.get("/api/v1/models").json()["items"] as? [[String: Any]])
                return Dictionary(
                    uniqueKeysWithValues: items.map { ($0["name"] as? String ?? "", $0["loaded"] as? Bool ?? true) })
            }
            let none = [
                "efficientnet-lite0": false, "mobilenet-v2": false, "open-nsfw": false, "ppocr-v4": false,
                "efficientnet-lite0-wordnet": false, "mobilenet-v2-wordnet": false,
            ]
            #expect(try await loaded() == none)
            let project = try await server.createProject("lazy")
            for photo in ["chelsea.png", "coffee.png"] {
                // act
                let form = Self.form(
                    models: "mobilenet-v2", projectID: project, files: [(photo, try Self.photo(photo))])
                let response = try await server.post(
                    "/api/v1/analyses", body: form.body, contentType: form.contentType)
                let item = try #require((try response.json()["items"] as? [[String: Any]])?.first)
                let sha256 = try #require(item["sha256"] as? String)
                let statuses = try await Self.results(server, sha256, models: ["mobilenet-v2"])
                // check: answered, the model in memory (only it), then released
                #expect(statuses["mobilenet-v2"]?["state"] as? String == "succeeded", "\(statuses)")
                var expected = none
                expected["mobilenet-v2"] = true
                expected["mobilenet-v2-wordnet"] = true  // its graph is MobileNetV2's
                #expect(try await loaded() == expected)
                let deadline = Date().addingTimeInterval(30)
                while try await loaded() != none, Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
                #expect(try await loaded() == none)
            }
        }
    }

    @Test(
        "uploads are analysed on their own; the gallery filters by model label; flagged images are hidden below editor",
        arguments: TestDatabase.enabled)
    func automatic(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.models.autoModels = ["mobilenet-v2", "open-nsfw"] }) {
            server in
            let project = try await server.createProject("auto")
            let cat = try #require(
                try await server.upload(try Self.photo("chelsea.png"), to: project, name: "cat.png").json()["sha256"]
                    as? String)
            let coffee = try #require(
                try await server.upload(try Self.photo("coffee.png"), to: project, name: "coffee.png").json()["sha256"]
                    as? String)
            try await server.settle(timeout: 60)
            let statuses = try await Self.results(server, cat, models: ["mobilenet-v2", "open-nsfw"])
            #expect(statuses.values.allSatisfy { $0["state"] as? String == "succeeded" })

            func listed(_ query: String, as identity: TestServer? = nil) async throws -> [String] {
                let items =
                    try await (identity ?? server).get("/api/v1/projects/\(project)/images?\(query)").json()["items"]
                    as? [[String: Any]]
                return items?.compactMap { $0["sha256"] as? String } ?? []
            }
            let topLabel = try #require(
                ((statuses["mobilenet-v2"]?["result"] as? [String: Any])?["labels"] as? [[String: Any]])?.first?[
                    "label"] as? String)
            let encoded = topLabel.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            #expect(try await listed("model_label=\(encoded)") == [cat])
            #expect(try await listed("model_label=espresso") == [coffee])
            #expect(try await listed("model_label=nothing-like-this").isEmpty)

            // Flag everything: a threshold of 0 flags any image with a score above 0.
            let alice = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "alice", password: "alice-password", isAdmin: false)
            let aliceToken = TestServer.bearer(
                try await TestAccounts.token(for: alice, scopes: [.read, .write], in: server.store))
            _ = try await server.send(.put, "/api/v1/projects/\(project)/members/alice", json: ["role": "contributor"])
            #expect(try await listed("", as: server.acting(as: aliceToken)).count == 2)
            let patched = try await server.send(
                .patch, "/api/v1/projects/\(project)", json: ["moderation_threshold": 0.0])
            #expect(try patched.json()["moderation_threshold"] as? Double == 0)
            #expect(try await listed("", as: server.acting(as: aliceToken)).isEmpty)
            #expect(try await listed("").count == 2)  // the administrator still sees them
            let bad = try await server.send(.patch, "/api/v1/projects/\(project)", json: ["moderation_threshold": 2])
            #expect(bad.status == .badRequest)
        }
    }
}
