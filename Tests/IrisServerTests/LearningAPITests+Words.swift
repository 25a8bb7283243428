import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisServer
import IrisTesting
import Testing

/// The model page's plain words through the API, and the active head's guesses on the gallery.
extension LearningAPITests {
    @Test(
        "classes and answers in words, test runs with their interval and caution, the head's guesses on this project's tiles only",
        arguments: TestDatabase.enabled)
    func words(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: three classes of 8 photos, and a second project holding one of the photos
            let project = try await server.createProject("scenes")
            let other = try await server.createProject("elsewhere")
            for name in ["brick", "grass", "coffee"] {
                let response = try await Self.addClass(
                    server, project: project, name: name, zip: try Self.zip(name, 0..<8))
                #expect(response.status == .created, "\(response.text)")
            }
            let shared = try await server.upload(try TestModels.evalPhoto("grass", 0), to: other, name: "lawn.jpg")
            #expect(shared.status == .created || shared.status == .ok, "\(shared.text)")

            // act: read the learner
            let classes = try await Self.learner(server, project)
            // check: each class says its count and when it answers, with its spread in a word
            for (name, item) in classes {
                let summary = try #require(item["summary"] as? String)
                #expect(summary.hasPrefix("8 photos · answers "), "\(name): \(summary)")
                #expect(["tight", "usual", "spread out"].contains(item["spread"] as? String ?? ""), "\(item)")
                #expect(item["confused_with"] is [String])
            }

            // act: classify one photo of a class and one of none
            let answers = try await Self.classify(
                server, project: project,
                files: [
                    ("lawn.jpg", try TestModels.evalPhoto("grass", 20)),
                    ("launch.jpg", try TestModels.evalPhoto("rocket", 20)),
                ])
            let items = try #require(try answers.json()["items"] as? [[String: Any]])
            // check: one sentence each, with the one calibrated percentage
            let lawn = try #require(items[0]["sentence"] as? String)
            let percent = Int(((items[0]["confidence"] as? Double ?? 0) * 100).rounded())
            #expect(lawn.hasPrefix("grass, \(min(max(percent, 1), 99))% sure"), "\(lawn)")
            let launch = try #require(items[1]["sentence"] as? String)
            #expect(
                launch.hasPrefix("unknown — nearest class ") && launch.hasSuffix("than its photos usually are"),
                "\(launch)")

            // act: train and activate a head, and test the learner
            for (path, body) in [("classifiers", ["activate": true]), ("evaluations", ["target": "learner"])] {
                let queued = try await server.send(.post, "/api/v1/projects/\(project)/\(path)", json: body)
                let job = try await server.waitForJob(
                    Int64(try #require(try queued.json()["id"] as? Int)), in: [.succeeded, .failed, .dead],
                    timeout: 120)
                #expect(job.state == .succeeded, "\(path): \(job.error ?? "")")
            }
            // check: the run has its interval around its accuracy, and says it is not reliable on 8 photos a class
            let run = try #require(
                (try await server.get("/api/v1/projects/\(project)/evaluations").json()["items"] as? [[String: Any]])?
                    .first)
            let accuracy = try #require((run["report"] as? [String: Any])?["accuracy"] as? Double)
            let interval = try #require(run["accuracy_interval"] as? [String: Double])
            #expect(
                interval["low"]! <= accuracy && accuracy <= interval["high"]!
                    && interval["high"]! - interval["low"]! > 0.2)
            #expect((run["caution"] as? String)?.hasPrefix("Not reliable: a class had only") == true, "\(run)")
            let head = try #require(
                (try await server.get("/api/v1/projects/\(project)/classifiers").json()["items"] as? [[String: Any]])?
                    .first)
            #expect((head["caution"] as? String)?.hasPrefix("Not reliable: about") == true, "\(head)")
            // the test's confusion now decides which classes are confused
            for (_, item) in try await Self.learner(server, project) {
                #expect(item["confusion_from"] == nil || item["confusion_from"] as? String == "test", "\(item)")
            }

            // check: this project's gallery shows the head's guesses; the other project's never does
            let page = try await server.get("/projects/\(project)")
            #expect(page.text.components(separatedBy: "class=\"label model head\"").count - 1 == 24)
            #expect(
                page.text.contains("this project&#39;s trained classifier")
                    || page.text.contains("this project's trained classifier"))
            let elsewhere = try await server.get("/projects/\(other)")
            // (its automatic model's guess shows, as on any gallery; the first project's head's does not)
            #expect(elsewhere.text.contains("lawn.jpg") && !elsewhere.text.contains("label model head"))
            #expect(!elsewhere.text.contains("trained classifier") && !elsewhere.text.contains(">grass</span>"))
        }
    }
}
