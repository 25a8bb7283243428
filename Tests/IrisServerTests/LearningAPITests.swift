import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisServer
import IrisServices
import IrisStore
import IrisTesting
import NIOCore
import SQLKit
import Testing

/// The incremental learner, trained classifiers and evaluations, over real embeddings of real photos.
/// Serialized: each test embeds dozens of photos, and requests must answer within the test client's 20 s.
@Suite(.serialized) struct LearningAPITests {
    static func zip(_ label: String, _ indexes: Range<Int>, extra: [(String, Data)] = []) throws -> Data {
        try Fixtures.zip(try indexes.map { ("\(label)/\($0).jpg", try TestModels.evalPhoto(label, $0)) } + extra)
    }

    static func addClass(_ server: TestServer, project: Int64, name: String, zip: Data) async throws -> TestResponse {
        var form = MultipartForm()
        form.addField("name", name)
        form.addFile("file", fileName: "\(name).zip", data: zip, type: "application/zip")
        return try await server.post(
            "/api/v1/projects/\(project)/learner/classes", body: form.body, contentType: form.contentType)
    }

    static func classify(_ server: TestServer, project: Int64, files: [(String, Data)]) async throws -> TestResponse {
        var form = MultipartForm()
        for (name, data) in files { form.addFile("file", fileName: name, data: data) }
        return try await server.post(
            "/api/v1/projects/\(project)/learner/classify", body: form.body, contentType: form.contentType)
    }

    static func learner(_ server: TestServer, _ project: Int64) async throws -> [String: [String: Any]] {
        let classes = try #require(
            try await server.get("/api/v1/projects/\(project)/learner").json()["classes"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: classes.map { ($0["name"] as! String, $0) })
    }

    @Test(
        "classes from zips; photos classified or unknown; bad zips, taken names and empty learners refused; O(1) examples from uploads",
        arguments: TestDatabase.enabled)
    func learner(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.models.autoModels = ["mobilenet-v2"] }) { server in
            let project = try await server.createProject("textures")
            // Before any class: classify is a clear 409.
            let early = try await Self.classify(
                server, project: project, files: [("b.jpg", try TestModels.evalPhoto("brick", 20))])
            #expect(early.status == .conflict && early.text.contains("no classes yet"), "\(early.text)")

            let brick = try await Self.addClass(
                server, project: project, name: "brick",
                zip: try Self.zip("brick", 0..<6, extra: [("brick/notes.jpg", Data("not a picture".utf8))]))
            #expect(brick.status == .created, "\(brick.text)")
            let added = try brick.json()
            #expect(added["added"] as? Int == 6)
            // The file that is no image is listed and skipped.
            #expect((added["skipped"] as? [[String: Any]])?.first?["path"] as? String == "brick/notes.jpg")
            for name in ["grass", "coins"] {
                let response = try await Self.addClass(
                    server, project: project, name: name, zip: try Self.zip(name, 0..<6))
                #expect(response.status == .created, "\(response.text)")
            }
            var classes = try await Self.learner(server, project)
            #expect(Set(classes.keys) == ["brick", "grass", "coins"])
            #expect(classes["brick"]?["count"] as? Int == 6 && (classes["brick"]?["examples"] as? [String])?.count == 4)
            // Each zip's images are in the project, labelled with their class.
            let page = try await server.get("/api/v1/projects/\(project)/images?label=grass").json()
            #expect((page["items"] as? [Any])?.count == 6)

            // Bad input changes nothing.
            let rowsBefore = try await server.rowCount("learner_members")
            let taken = try await Self.addClass(
                server, project: project, name: "brick", zip: try Self.zip("brick", 10..<12))
            #expect(taken.status == .conflict && taken.headers[.contentType] == "application/problem+json")
            let empty = try await Self.addClass(
                server, project: project, name: "nothing", zip: try Fixtures.zip([("readme.txt", Data("hello".utf8))]))
            #expect(empty.status == .badRequest && empty.text.contains("no image"), "\(empty.text)")
            #expect(try await server.rowCount("learner_members") == rowsBefore)
            #expect(Set(try await Self.learner(server, project).keys) == ["brick", "grass", "coins"])

            // Unseen crops of taught classes get their class; a class never taught is unknown.
            let answers = try await Self.classify(
                server, project: project,
                files: [
                    ("brick.jpg", try TestModels.evalPhoto("brick", 25)),
                    ("grass.jpg", try TestModels.evalPhoto("grass", 25)),
                    ("coins.jpg", try TestModels.evalPhoto("coins", 25)),
                    ("cat.jpg", try TestModels.evalPhoto("cat", 25)),
                    ("broken.jpg", Data("broken".utf8)),
                ])
            #expect(answers.status == .ok, "\(answers.text)")
            let items = try #require(try answers.json()["items"] as? [[String: Any]])
            let byFile = Dictionary(uniqueKeysWithValues: items.map { ($0["file"] as! String, $0) })
            for name in ["brick", "grass", "coins"] {
                #expect(byFile["\(name).jpg"]?["label"] as? String == name, "\(name): \(byFile["\(name).jpg"] ?? [:])")
                let ranked = try #require(byFile["\(name).jpg"]?["ranked"] as? [[String: Any]])
                #expect(ranked.count == 3 && (ranked[0]["confidence"] as? Double ?? 0) > 0.5)
                // The calibrated probability: a clear answer is likely right.
                #expect((byFile["\(name).jpg"]?["confidence"] as? Double ?? 0) > 0.5)
            }
            #expect(byFile["cat.jpg"]?["unknown"] as? Bool == true, "the cat: \(byFile["cat.jpg"] ?? [:])")
            // Far from every class: the nearest is unlikely to be right.
            #expect((byFile["cat.jpg"]?["confidence"] as? Double ?? 1) < 0.5, "\(byFile["cat.jpg"] ?? [:])")
            #expect(
                ((byFile["broken.jpg"]?["error"] as? [String: Any])?["status"] as? Int).map { (400..<500).contains($0) }
                    == true)

            // The owner's factor on the threshold: out of range is a 400 naming it and changes nothing;
            // 2 doubles every threshold, in answers too; null goes back to 1.
            let path = "/api/v1/projects/\(project)/learner"
            let measured = try #require(classes["brick"]?["threshold"] as? Double)
            let tooFar = try await server.send(.patch, path, json: ["threshold_scale": 3])
            #expect(tooFar.status == .badRequest && tooFar.text.contains("threshold_scale"), "\(tooFar.text)")
            #expect(try await server.get(path).json()["threshold_scale"] as? Double == 1)
            let loose = try await server.send(.patch, path, json: ["threshold_scale": 2])
            #expect(loose.status == .ok, "\(loose.text)")
            #expect(try loose.json()["threshold_scale"] as? Double == 2)
            let doubled = try #require(try await Self.learner(server, project)["brick"]?["threshold"] as? Double)
            #expect(abs(doubled - 2 * measured) < 1e-9)
            let catAgain = try await Self.classify(
                server, project: project, files: [("cat.jpg", try TestModels.evalPhoto("cat", 25))])
            let catItem = try #require((try catAgain.json()["items"] as? [[String: Any]])?.first)
            let catRanked = try #require(catItem["ranked"] as? [[String: Any]])
            #expect(abs((catRanked.first?["threshold"] as? Double ?? 0) - 2 * measured) < 1e-9, "\(catItem)")
            let back = try await server.request(
                .patch, path, headers: [.contentType: "application/json"],
                body: ByteBuffer(bytes: Data(#"{"threshold_scale": null}"#.utf8)))
            let backScale = try back.json()["threshold_scale"] as? Double
            #expect(back.status == .ok && backScale == 1, "\(back.text)")
            let restored = try #require(try await Self.learner(server, project)["brick"]?["threshold"] as? Double)
            #expect(abs(restored - measured) < 1e-9)

            // A labelled upload joins its class on its own, once analysed: one example more, the others untouched.
            let grassBefore = try #require(classes["grass"]?["updated_at"] as? String)
            _ = try await server.upload(
                try TestModels.evalPhoto("brick", 15), to: project, name: "more-brick.jpg", labels: ["brick"])
            try await server.settle(timeout: 60)
            classes = try await Self.learner(server, project)
            #expect(classes["brick"]?["count"] as? Int == 7)
            #expect(classes["grass"]?["updated_at"] as? String == grassBefore)

            // Consolidation rebuilds it from members, with toasts' events.
            let consolidate = try await server.request(.post, "/api/v1/projects/\(project)/learner/consolidate")
            #expect(consolidate.status == .accepted)
            _ = try await server.waitForJob(
                Int64(try #require(try consolidate.json()["id"] as? Int)), in: [.succeeded], timeout: 60)
            let events = try await server.store.events.latest(projectIDs: [project], limit: 50).map(\.action)
            #expect(events.contains("learner.updating") && events.contains("learner.updated"))
            #expect(try await Self.learner(server, project)["brick"]?["count"] as? Int == 7)

            // Remove a class; removing it again is 404. Reset is for administrators and keeps the images.
            #expect(try await server.delete("/api/v1/projects/\(project)/learner/classes/coins").status == .noContent)
            #expect(try await server.delete("/api/v1/projects/\(project)/learner/classes/coins").status == .notFound)
            #expect(Set(try await Self.learner(server, project).keys) == ["brick", "grass"])
            let images = try await server.rowCount("project_images")
            #expect(try await server.request(.post, "/api/v1/projects/\(project)/learner/reset").status == .ok)
            #expect(try await Self.learner(server, project).isEmpty)
            #expect(try await server.rowCount("project_images") == images)
        }
    }

    @Test(
        "train a head, make it active, test the learner and the head, and read every run back",
        arguments: TestDatabase.enabled)
    func trainAndEvaluate(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("scenes")
            for name in ["brick", "grass", "coffee", "cat"] {
                let response = try await Self.addClass(
                    server, project: project, name: name, zip: try Self.zip(name, 0..<10))
                #expect(response.status == .created, "\(response.text)")
            }
            let train = try await server.send(
                .post, "/api/v1/projects/\(project)/classifiers", json: ["activate": true])
            #expect(train.status == .accepted, "\(train.text)")
            let trained = try await server.waitForJob(
                Int64(try #require(try train.json()["id"] as? Int)), in: [.succeeded, .failed, .dead], timeout: 120)
            #expect(trained.state == .succeeded, "\(trained.error ?? "")")
            let versions = try #require(
                try await server.get("/api/v1/projects/\(project)/classifiers").json()["items"] as? [[String: Any]])
            #expect(
                versions.count == 1 && versions[0]["active"] as? Bool == true && versions[0]["version"] as? Int == 1)
            let training = try #require(versions[0]["training"] as? [String: Any])
            #expect((training["validation_accuracy"] as? Double ?? 0) >= 0.9)
            #expect(
                (training["train_count"] as? Int ?? 0) + (training["held_out"] as? Int ?? 0)
                    + (training["validation_count"] as? Int ?? 0) == 40)

            // Its predictions are model labels on the images.
            let some = try #require(
                try await server.get("/api/v1/projects/\(project)/images?label=coffee").json()["items"]
                    as? [[String: Any]])
            let sha256 = try #require(some.first?["sha256"] as? String)
            let analyses = try #require(
                try await server.get("/api/v1/analyses/\(sha256)").json()["models"] as? [String: [String: Any]])
            let head = try #require(analyses["project-\(project)-classifier"]?["result"] as? [String: Any])
            #expect((head["labels"] as? [[String: Any]])?.first?["label"] as? String == "coffee")

            for target in ["learner", "classifier"] {
                let evaluate = try await server.send(
                    .post, "/api/v1/projects/\(project)/evaluations", json: ["target": target])
                #expect(evaluate.status == .accepted, "\(evaluate.text)")
                let job = try await server.waitForJob(
                    Int64(try #require(try evaluate.json()["id"] as? Int)), in: [.succeeded, .failed, .dead],
                    timeout: 60)
                #expect(job.state == .succeeded, "\(target): \(job.error ?? "")")
            }
            let runs = try #require(
                try await server.get("/api/v1/projects/\(project)/evaluations").json()["items"] as? [[String: Any]])
            #expect(runs.map { $0["target"] as? String } == ["classifier", "learner"])
            for run in runs {
                let report = try #require(run["report"] as? [String: Any])
                #expect((report["accuracy"] as? Double ?? 0) >= 0.8, "\(run)")
                let confusion = try #require(report["confusion"] as? [[Int]])
                #expect(confusion.count == 4 && confusion.allSatisfy { $0.count == 5 })
                #expect(confusion.flatMap { $0 }.reduce(0, +) == report["count"] as? Int)
                #expect((report["classes"] as? [[String: Any]])?.count == 4)
            }
            #expect((runs[1]["report"] as? [String: Any])?["coverage"] != nil)
            let one = try await server.get(
                "/api/v1/projects/\(project)/evaluations/\(try #require(runs[0]["id"] as? Int))")
            #expect(one.status == .ok)

            // Bad requests: unknown targets and versions.
            #expect(
                try await server.send(.post, "/api/v1/projects/\(project)/evaluations", json: ["target": "oracle"])
                    .status == .badRequest)
            #expect(
                try await server.send(
                    .post, "/api/v1/projects/\(project)/evaluations", json: ["target": "classifier", "version": 9]
                ).status == .notFound)
            #expect(
                try await server.request(.post, "/api/v1/projects/\(project)/classifiers/9/activate").status
                    == .notFound)
            #expect(try await server.get("/api/v1/projects/\(project)/evaluations/99999").status == .notFound)

            // The model page shows the project's learning.
            let html = try await server.get("/projects/\(project)/model")
            #expect(html.status == .ok && html.text.contains("id=\"model-page\""))
        }
    }

    @Test(
        "a project chooses its extractor: the classes are rebuilt over it, uploads join over it, heads train over it",
        arguments: TestDatabase.enabled)
    func chosenModel(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.models.autoModels = ["mobilenet-v2"] }) { server in
            let project = try await server.createProject("extractors")
            let path = "/api/v1/projects/\(project)/learner"
            for name in ["brick", "grass", "coins"] {
                let response = try await Self.addClass(
                    server, project: project, name: name, zip: try Self.zip(name, 0..<5))
                #expect(response.status == .created, "\(response.text)")
            }
            var body = try await server.get(path).json()
            #expect(body["model"] as? String == "mobilenet-v2-wordnet" && body["rebuilding"] as? Bool == false)
            #expect(
                Set(body["models"] as? [String] ?? []).isSuperset(of: [
                    "mobilenet-v2", "efficientnet-lite0", "mobilenet-v2-wordnet", "efficientnet-lite0-wordnet",
                ]))

            // A name that is no embedding model is a 400 naming the field, and changes nothing.
            let wrong = try await server.send(.patch, path, json: ["model": "resnet50", "threshold_scale": 1.5])
            #expect(wrong.status == .badRequest && wrong.text.contains("model"), "\(wrong.text)")
            body = try await server.get(path).json()
            #expect(body["model"] as? String == "mobilenet-v2-wordnet" && body["threshold_scale"] as? Double == 1)

            let chosen = try await server.send(.patch, path, json: ["model": "efficientnet-lite0"])
            let chosenModel = try chosen.json()["model"] as? String
            #expect(chosen.status == .ok && chosenModel == "efficientnet-lite0", "\(chosen.text)")
            try await server.settle(timeout: 120)
            body = try await server.get(path).json()
            #expect(body["model"] as? String == "efficientnet-lite0" && body["rebuilding"] as? Bool == false, "\(body)")
            #expect(body["count"] as? Int == 15)
            let rebuilt = try #require(try await server.store.learning.learner(projectID: project))
            #expect(rebuilt.model == "efficientnet-lite0")
            let events = try await server.store.events.latest(projectIDs: [project], limit: 50).map(\.action)
            #expect(events.contains("learner.model_set") && events.contains("learner.updated"))

            // Classified over the new model: unseen photos of taught classes get their class.
            let answers = try await Self.classify(
                server, project: project,
                files: ["brick", "grass", "coins"].map { ("\($0).jpg", try! TestModels.evalPhoto($0, 25)) })
            let items = try #require(try answers.json()["items"] as? [[String: Any]])
            #expect(items.map { $0["label"] as? String } == ["brick", "grass", "coins"], "\(items)")

            // A labelled upload (analysed by the automatic MobileNetV2 only) joins over EfficientNet-Lite0.
            _ = try await server.upload(
                try TestModels.evalPhoto("brick", 15), to: project, name: "more-brick.jpg", labels: ["brick"])
            try await server.settle(timeout: 60)
            #expect(try await Self.learner(server, project)["brick"]?["count"] as? Int == 6)

            // A head trains over the project's model too.
            let train = try await server.send(.post, "/api/v1/projects/\(project)/classifiers", json: [:])
            let trained = try await server.waitForJob(
                Int64(try #require(try train.json()["id"] as? Int)), in: [.succeeded, .failed, .dead], timeout: 120)
            #expect(trained.state == .succeeded, "\(trained.error ?? "")")
            let heads = try #require(
                try await server.get("/api/v1/projects/\(project)/classifiers").json()["items"] as? [[String: Any]])
            #expect(heads.first?["model"] as? String == "efficientnet-lite0")

            // null goes back to the setting's model, rebuilt again.
            let back = try await server.request(
                .patch, path, headers: [.contentType: "application/json"],
                body: ByteBuffer(bytes: Data(#"{"model": null}"#.utf8)))
            let backModel = try back.json()["model"] as? String
            #expect(back.status == .ok && backModel == "mobilenet-v2-wordnet", "\(back.text)")
            try await server.settle(timeout: 120)
            #expect(try await server.store.learning.learner(projectID: project)?.model == "mobilenet-v2-wordnet")
            #expect(try await server.get(path).json()["count"] as? Int == 16)
        }
    }

    @Test(
        "a learner over another model than its project's now (a changed setting) is rebuilt by the scheduled consolidation, answering meanwhile",
        arguments: TestDatabase.enabled)
    func migration(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.models.autoModels = ["mobilenet-v2"] }) { server in
            let project = try await server.createProject("migrating")
            for name in ["brick", "grass", "coins"] {
                let response = try await Self.addClass(
                    server, project: project, name: name, zip: try Self.zip(name, 0..<5))
                #expect(response.status == .created, "\(response.text)")
            }
            let semantic = try #require(try await server.store.learning.learner(projectID: project))
            #expect(semantic.model == "mobilenet-v2-wordnet" && semantic.dimension == 1280 + 1860)
            // As a learner made before the setting changed: its classes over plain MobileNetV2.
            try await server.store.database.withConnection { db in
                try await db.raw("UPDATE learners SET model = 'mobilenet-v2' WHERE project_id = \(bind: project)").run()
            }
            #expect(try await server.get("/api/v1/projects/\(project)/learner").json()["rebuilding"] as? Bool == true)
            _ = try await server.store.jobs.enqueue([
                try JobRequest(
                    kind: ConsolidateJob.kind, encoding: ConsolidateJob.Payload(), queue: JobSettings.Queue.ml)
            ])
            try await server.settle(timeout: 120)
            let rebuilt = try #require(try await server.store.learning.learner(projectID: project))
            #expect(rebuilt.model == "mobilenet-v2-wordnet" && rebuilt.count == 15 && rebuilt.dimension == 3140)
            let answers = try await Self.classify(
                server, project: project,
                files: ["grass", "coins"].map { ("\($0).jpg", try! TestModels.evalPhoto($0, 25)) })
            let items = try #require(try answers.json()["items"] as? [[String: Any]])
            #expect(items.map { $0["label"] as? String } == ["grass", "coins"], "\(items)")
        }
    }

    /// Here, not with the other bad input: making the class embeds photos, which the rest of
    /// the suite running beside it could push past the test client's 20 s.
    @Test(
        "classify and analyses hold a caller's file to the pixel limit before decoding it",
        arguments: TestDatabase.enabled)
    func pixelBombElsewhere(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: a learner with one class, so classify gets as far as the files.
            let project = try await server.createProject("p")
            let taught = try await Self.addClass(
                server, project: project, name: "plain",
                zip: try Fixtures.zip([
                    ("plain/1.jpg", try Fixtures.jpeg(seed: 1)), ("plain/2.jpg", try Fixtures.jpeg(seed: 2)),
                ]))
            #expect(taught.status == .created, "\(taught.text)")
            // The class's photos' own jobs (their large thumbnails) finish first: they add blobs.
            try await server.settle()
            let (images, blobs) = (try await server.rowCount("images"), server.blobFiles().count)
            let bomb = try Fixtures.pixelBomb()

            // act
            let classified = try await Self.classify(server, project: project, files: [("bomb.png", bomb)])
            var form = MultipartForm()
            form.addField("project_id", String(project))
            form.addField("models", "mobilenet-v2")
            form.addFile("file", fileName: "bomb.png", data: bomb, type: "image/png")
            let analysed = try await server.post("/api/v1/analyses", body: form.body, contentType: form.contentType)

            // check: each answer names the limit; nothing was stored.
            let item = try #require((try classified.json()["items"] as? [[String: Any]])?.first, "\(classified.text)")
            let error = try #require(item["error"] as? [String: Any], "\(item)")
            #expect(
                error["status"] as? Int == 422 && (error["detail"] as? String)?.contains("400000000 pixels") == true)
            #expect(analysed.text.contains("400000000 pixels"), "\(analysed.text)")
            #expect(try await server.rowCount("images") == images && server.blobFiles().count == blobs)
            #expect(server.scratchFiles().isEmpty, "\(server.scratchFiles())")
        }
    }
}
