import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisImaging
import IrisServer
import IrisServices
import IrisStore
import IrisTesting
import NIOCore
import Testing

/// Repairs through the API: a real photo, a brushed mask, the job, the result in the project,
/// the history and the events; and every bad request refused with nothing stored.
@Suite("Repairing photos through the API")
struct RepairAPITests {
    static func ellipseMask(width: Int, height: Int) throws -> Data {
        let values = (0..<height).flatMap { y in
            (0..<width).map { x in
                let dx = (Double(x) - Double(width) * 0.4) / (Double(width) * 0.12)
                let dy = (Double(y) - Double(height) * 0.5) / (Double(height) * 0.1)
                return dx * dx + dy * dy <= 1 ? 255 : 0
            }
        }
        return try SyntheticImage.png(width: width, height: height, bands: 1, values: values)
    }

    static func send(
        _ server: TestServer, _ sha256: String, mask: Data?, fields: [String: String] = [:]
    ) async throws -> TestResponse {
        var form = MultipartForm()
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { form.addField(name, value) }
        if let mask { form.addFile("mask", fileName: "mask.png", data: mask, type: "image/png") }
        return try await server.post(
            "/api/v1/images/\(sha256)/repairs", body: form.body, contentType: form.contentType)
    }

    @Test(
        "a brushed photo is repaired in a job; the result joins the project with the source's labels, in the history and the events",
        arguments: TestDatabase.enabled)
    func repair(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("portraits")
            let photo = try Data(contentsOf: TestModels.photo("chelsea.png"))
            let uploaded = try await server.upload(photo, to: project, name: "cat.png", labels: ["cat"])
            let sha256 = try #require(try uploaded.json()["sha256"] as? String)
            let size = try SyntheticImage.pixels(of: photo)
            let mask = try Self.ellipseMask(width: size.width, height: size.height)

            // Bad requests store nothing: no repair row, no repair job, no mask. (Other jobs, the
            // upload's thumbnails and the scheduler's, may be queued meanwhile.)
            func repairJobs() async throws -> Int {
                try await server.store.jobs.list(
                    state: nil, kind: "image.repair", projectIDs: nil, keyPrefix: nil, before: nil, limit: 100
                ).count
            }
            let imagesBefore = try await server.rowCount("project_images")
            let refusals: [(Data?, [String: String], String)] = [
                (try Self.ellipseMask(width: 100, height: 80), [:], "must be the photo's size"),
                (Data("hello".utf8), [:], "not an image"),
                (
                    try SyntheticImage.png(
                        width: size.width, height: size.height, bands: 1,
                        values: .init(repeating: 0, count: size.width * size.height)), [:], "marks nothing"
                ),
                (
                    try SyntheticImage.png(
                        width: size.width, height: size.height, bands: 1,
                        values: .init(repeating: 255, count: size.width * size.height)), [:], "whole photo"
                ),
                (mask, ["method": "lama"], "method must be one of"),
                (mask, ["seed": "-3"], "seed must be"),
                (mask, ["domain": "maybe"], "domain must be"),
                (nil, [:], "send the mask in a part"),
            ]
            for (maskData, fields, words) in refusals {
                let refused = try await Self.send(server, sha256, mask: maskData, fields: fields)
                #expect(refused.status == .badRequest, "\(words): \(refused.status) \(refused.text)")
                #expect(refused.headers[.contentType] == "application/problem+json")
                #expect(refused.text.contains(words), "\(refused.text)")
                #expect(!refused.text.contains(server.dataDirectory.path))
            }
            #expect(try await server.rowCount("repairs") == 0)
            #expect(try await repairJobs() == 0)
            #expect(
                !FileManager.default.fileExists(atPath: server.dataDirectory.appendingPathComponent("blobs/masks").path)
            )
            // An image the caller cannot see, and a project they do not name rightly: 404.
            let unknown = try await Self.send(server, String(repeating: "a", count: 64), mask: mask)
            #expect(unknown.status == .notFound)
            let elsewhere = try await Self.send(server, sha256, mask: mask, fields: ["project_id": "999999"])
            #expect(elsewhere.status == .notFound)

            // The project's default for domain photos: a request that does not say follows it.
            let unclear = try await server.send(.patch, "/api/v1/projects/\(project)", json: ["repair_domain": "yes"])
            #expect(unclear.status == .badRequest && unclear.text.contains("repair_domain"), "\(unclear.text)")
            let patched = try await server.send(.patch, "/api/v1/projects/\(project)", json: ["repair_domain": true])
            let patchedDomain = try patched.json()["repair_domain"] as? Bool
            #expect(patched.status == .ok && patchedDomain == true, "\(patched.text)")

            // act
            let accepted = try await Self.send(server, sha256, mask: mask, fields: ["seed": "11"])
            #expect(accepted.status == .accepted, "\(accepted.text)")
            let id = try #require(try accepted.json()["id"] as? Int)
            let job = try #require(try accepted.json()["job_id"] as? Int)
            let finished = try await server.waitForJob(Int64(job), in: [.succeeded, .failed, .dead], timeout: 120)
            #expect(finished.state == .succeeded, "\(finished.error ?? "")")

            // check: the repair's record
            let shown = try await server.get("/api/v1/repairs/\(id)").json()
            #expect(shown["state"] as? String == "succeeded" && shown["progress"] as? Double == 1)
            #expect(shown["method"] as? String == "exemplar" && shown["seed"] as? Int == 11)
            #expect(shown["domain"] as? Bool == true)
            let result = try #require(shown["result_sha256"] as? String)
            #expect(result != sha256)
            let timings = try #require(shown["timings"] as? [String: Any])
            #expect((timings["masked_pixels"] as? Int ?? 0) > 1000 && (timings["seconds"] as? Double ?? 0) > 0)
            // The result is an image of the project, labelled like its source, and only the hole changed.
            let member = try #require(try await server.store.images.member(sha256: result, of: project))
            #expect(member.labels.map(\.name) == ["cat"] && member.originalName == "cat.repaired.png")
            #expect(try await server.rowCount("project_images") == imagesBefore + 1)
            let bytes = try await server.get("/api/v1/images/\(result)/original")
            let after = try SyntheticImage.pixels(of: bytes.data)
            #expect(after.width == size.width && after.height == size.height)
            #expect(after.values[0..<300] == size.values[0..<300])
            // The mask as stored, one band.
            let storedMask = try await server.get("/api/v1/repairs/\(id)/mask")
            #expect(storedMask.status == .ok && storedMask.headers[.contentType] == "image/png")
            #expect(try SyntheticImage.pixels(of: storedMask.data).bands == 1)
            // The history, newest first, and the events.
            let history = try #require(
                try await server.get("/api/v1/projects/\(project)/repairs").json()["items"] as? [[String: Any]])
            #expect(history.map { $0["id"] as? Int } == [id])
            let events = try await server.store.events.latest(projectIDs: [project], limit: 50).map(\.action)
            #expect(events.contains("repair.requested") && events.contains("repair.succeeded"))

            // Discard: the result leaves the project; the record stays, marked.
            let discarded = try await server.request(.post, "/api/v1/repairs/\(id)/discard")
            let discardedFlag = try discarded.json()["discarded"] as? Bool
            #expect(discarded.status == .ok && discardedFlag == true)
            #expect(try await server.store.images.member(sha256: result, of: project) == nil)
            #expect(try await server.get("/api/v1/repairs/\(id)").json()["discarded"] as? Bool == true)
        }
    }

    @Test(
        "an inpainting network dropped into the models folder is a repair method; it analyses nothing",
        arguments: TestDatabase.enabled)
    func network(database: TestDatabase) async throws {
        // The test graph setup builds (not a real network): it fills the hole with the mean colour around it.
        let folder = TestModels.root.appendingPathComponent(".cache/test-models")
        try await TestServer.with(database, configure: { $0.models.folder = folder }) { server in
            let listed = try #require(try await server.get("/api/v1/models").json()["items"] as? [[String: Any]])
            let entry = try #require(listed.first { $0["name"] as? String == "mean-fill" }, "\(listed)")
            #expect(entry["tasks"] as? [String] == ["inpaint"])

            let project = try await server.createProject("networks")
            let photo = try Data(contentsOf: TestModels.photo("chelsea.png"))
            let sha256 = try #require(
                try await server.upload(photo, to: project, name: "cat.png").json()["sha256"] as? String)
            // It repairs; it does not analyse.
            let analysis = try await server.send(
                .post, "/api/v1/analyses", json: ["images": [sha256], "models": ["mean-fill"]])
            #expect(analysis.status == .badRequest && analysis.text.contains("repairs photos"), "\(analysis.text)")
            let before = try SyntheticImage.pixels(of: photo)
            let mask = try Self.ellipseMask(width: before.width, height: before.height)
            let unknown = try await Self.send(server, sha256, mask: mask, fields: ["method": "lama"])
            #expect(
                unknown.status == .badRequest && unknown.text.contains("exemplar, exemplar-smooth, mean-fill"),
                "\(unknown.text)")

            let accepted = try await Self.send(server, sha256, mask: mask, fields: ["method": "mean-fill"])
            #expect(accepted.status == .accepted, "\(accepted.text)")
            let job = try #require(try accepted.json()["job_id"] as? Int)
            let finished = try await server.waitForJob(Int64(job), in: [.succeeded, .failed, .dead], timeout: 60)
            #expect(finished.state == .succeeded, "\(finished.error ?? "")")
            let repair = try await server.get("/api/v1/repairs/\(try #require(try accepted.json()["id"] as? Int))")
                .json()
            #expect(repair["method"] as? String == "mean-fill")
            let result = try #require(repair["result_sha256"] as? String)
            let after = try SyntheticImage.pixels(of: try await server.get("/api/v1/images/\(result)/original").data)
            // Inside the hole: the mean colour of the pixels outside it, channel by channel (so the
            // layouts, the 0–1 range and the colour order all held); outside: the original's.
            let (width, height, bands) = (before.width, before.height, before.bands)
            let centre = (height / 2 * width + Int(Double(width) * 0.4)) * bands
            var sums = [Double](repeating: 0, count: 3)
            var count = 0.0
            let maskPixels = try SyntheticImage.pixels(of: mask).values
            for pixel in 0..<width * height where maskPixels[pixel] == 0 {
                for band in 0..<3 { sums[band] += Double(before.values[pixel * bands + band]) }
                count += 1
            }
            for band in 0..<3 {
                let expected = sums[band] / count
                #expect(
                    abs(Double(after.values[centre + band]) - expected) < 8,
                    "band \(band): \(after.values[centre + band]) for \(expected)")
            }
            #expect(after.values[0..<300] == before.values[0..<300])
            // The image page offers it beside the built-in method.
            let page = try await server.get("/images/\(sha256)")
            #expect(page.text.contains("id=\"repair-method\"") && page.text.contains("value=\"mean-fill\""))
        }
    }
}
