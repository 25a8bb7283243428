import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisImaging
import IrisServer
import IrisServices
import IrisStore
import IrisTesting
import SQLKit
import Testing

/// Near-duplicates: the difference hash keeps copies close and different photos apart; a
/// project's groups join copies (by hash) and near-identical shots (by embedding); keeping one
/// moves the others' labels to it and takes them out of the project, for editors only.
@Suite("Duplicates")
struct DuplicatesTests {
    /// A photo's copy cropped by `fraction` of each side.
    static func cropped(_ data: Data, by fraction: Double) throws -> Data {
        let image = try SyntheticImage.pixels(of: data)
        let (dx, dy) = (Int(Double(image.width) * fraction), Int(Double(image.height) * fraction))
        let (width, height) = (image.width - 2 * dx, image.height - 2 * dy)
        var values: [Int] = []
        values.reserveCapacity(width * height * image.bands)
        for y in dy..<(dy + height) {
            let start = (y * image.width + dx) * image.bands
            values.append(contentsOf: image.values[start..<(start + width * image.bands)])
        }
        return try SyntheticImage.png(width: width, height: height, bands: image.bands, values: values)
    }

    @Test("re-encoded, resized and 3 % cropped copies stay within 10 bits; different photos are far apart")
    func hashes() throws {
        let names = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png"]
        var hashes: [UInt64] = []
        let rough = try ImageInspector(thumbnailQuality: 30)
        for name in names {
            let path = TestModels.photo(name).path
            let original = try Data(contentsOf: URL(fileURLWithPath: path))
            let hash = try PerceptualHash.difference(of: original)
            hashes.append(hash)
            let copies = [
                try #require(try rough.thumbnails(path: path, sizes: [400])[400]),
                try #require(try rough.thumbnails(path: path, sizes: [96])[96]),
                try Self.cropped(original, by: 0.03),
            ]
            for (kind, copy) in zip(["re-encoded", "resized to 96 px", "cropped"], copies) {
                let distance = PerceptualHash.distance(hash, try PerceptualHash.difference(of: copy))
                #expect(distance <= Duplicates.hashDistance, "\(name) \(kind): \(distance) bits away")
            }
        }
        for a in hashes.indices {
            for b in hashes.indices where b > a {
                #expect(PerceptualHash.distance(hashes[a], hashes[b]) > 16, "\(names[a]) and \(names[b]) look alike")
            }
        }
        #expect(throws: (any Error).self) { try PerceptualHash.difference(of: Data("not an image".utf8)) }
    }

    @Test(
        "a copy and a near-identical shot group with their original; keeping one merges labels; editors only",
        arguments: TestDatabase.enabled)
    func api(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("birds")
            let other = try await server.createProject("elsewhere")
            func upload(_ data: Data, to project: Int64, labels: [String]) async throws -> String {
                let response = try await server.upload(data, to: project, labels: labels)
                #expect(response.status == .created, "\(response.text)")
                return try #require(try response.json()["sha256"] as? String)
            }
            let path = TestModels.photo("chelsea.png").path
            let original = try await upload(
                try Data(contentsOf: URL(fileURLWithPath: path)), to: project, labels: ["cat"])
            let copyData = try #require(
                try ImageInspector(thumbnailQuality: 40).thumbnails(path: path, sizes: [200])[200])
            let copy = try await upload(copyData, to: project, labels: ["tabby"])
            _ = try await upload(copyData, to: other, labels: [])
            // Different photos (far apart by hash: see `hashes`), two given near-identical embeddings.
            func photo(_ name: String) throws -> Data { try Data(contentsOf: TestModels.photo(name)) }
            let shot = try await upload(try photo("astronaut.png"), to: project, labels: ["burst"])
            let burst = try await upload(try photo("rocket.jpg"), to: project, labels: [])
            let unrelated = try await upload(try photo("coffee.png"), to: project, labels: [])
            // Two shots a moment apart: embeddings almost the same; the third far from both.
            for (sha256, vector) in [
                (shot, [1, 0.02, 0, 0] as [Float]), (burst, [1, 0.03, 0.01, 0]), (unrelated, [0, 1, 0, 0]),
            ] {
                _ = try await server.store.analyses.save(
                    Analysis(sha256: sha256, model: "mobilenet-v2", result: "{}", createdAt: Date()), labels: [],
                    embedding: vector, moderation: nil)
            }

            let found = try await server.get("/api/v1/projects/\(project)/duplicates")
            #expect(found.status == .ok, "\(found.text)")
            let body = try found.json()
            let groups = try #require(body["groups"] as? [[String: Any]])
            let members = groups.map { group in
                Set(((group["images"] as? [[String: Any]]) ?? []).compactMap { $0["sha256"] as? String })
            }
            #expect(Set(members) == [[original, copy], [shot, burst]], "\(found.text)")
            let catGroup = try #require(groups.first { ($0["keep"] as? String) == original })
            let copyEntry = try #require(
                (catGroup["images"] as? [[String: Any]])?.first { $0["sha256"] as? String == copy })
            #expect((copyEntry["hash_distance"] as? Int).map { $0 <= Duplicates.hashDistance } == true)
            #expect(body["model"] as? String == "mobilenet-v2" && body["complete"] as? Bool == true)

            // A viewer may not look or merge; bad requests change nothing.
            let viewer = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "vic", password: "vic-password", isAdmin: false)
            try await server.store.accounts.setRole(projectID: project, userID: viewer.id, .viewer)
            let asViewer = server.acting(
                as: TestServer.bearer(
                    try await TestAccounts.token(for: viewer, scopes: [.read, .write], in: server.store)))
            #expect(try await asViewer.get("/api/v1/projects/\(project)/duplicates").status == .forbidden)
            let merge = "/api/v1/projects/\(project)/duplicates/merge"
            let refused = try await asViewer.send(.post, merge, json: ["keep": original, "remove": [copy]])
            #expect(refused.status == .forbidden)
            for (payload, field) in [
                (["keep": original, "remove": [String]()] as [String: Any], "remove"),
                (["keep": original, "remove": [original]], "remove"),
                (["keep": "abc", "remove": [copy]], "keep"),
                (["keep": original, "remove": [copy, copy]], "remove"),
                (["keep": original, "remove": ["zz"]], "remove"),
            ] {
                let response = try await server.send(.post, merge, json: payload)
                #expect(response.status == .badRequest, "\(payload): \(response.text)")
                #expect(try response.json()["field"] as? String == field)
            }
            let outsider = try await server.send(
                .post, merge, json: ["keep": original, "remove": [String(repeating: "a", count: 64)]])
            #expect(outsider.status == .notFound)
            #expect(try await server.store.images.member(sha256: copy, of: project) != nil)

            // Keeping the original: the copy's label moves to it, the copy leaves this project
            // only (its bytes stay: the other project holds them).
            let merged = try await server.send(.post, merge, json: ["keep": original, "remove": [copy]])
            #expect(merged.status == .ok, "\(merged.text)")
            let labels = try #require(try merged.json()["labels"] as? [[String: Any]]).compactMap {
                $0["name"] as? String
            }
            #expect(Set(labels) == ["cat", "tabby"])
            #expect(try await server.store.images.member(sha256: copy, of: project) == nil)
            #expect(try await server.store.images.member(sha256: copy, of: other) != nil)
            #expect(try await server.get("/api/v1/images/\(copy)/original").status == .ok)
            // The burst's one: no other project holds it, so its blobs go too.
            #expect(try await server.send(.post, merge, json: ["keep": shot, "remove": [burst]]).status == .ok)
            #expect(try await server.store.images.find(sha256: burst) == nil)
            let after = try await server.get("/api/v1/projects/\(project)/duplicates")
            #expect((try after.json()["groups"] as? [[String: Any]])?.isEmpty == true, "\(after.text)")
            let page = try await server.get("/projects/\(project)/duplicates")
            #expect(page.status == .ok && page.text.contains("No duplicates found."))
        }
    }
}
