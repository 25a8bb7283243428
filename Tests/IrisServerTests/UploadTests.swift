import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisImaging
import IrisServer
import IrisServices
import IrisTesting
import Testing

@Suite("Uploading and reading images over HTTP")
struct UploadTests {
    @Test(
        "upload, duplicate upload, and the same bytes in another project are stored once",
        arguments: TestDatabase.enabled)
    func uploadAndDedupe(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup
            let cats = try await server.createProject("cats", labelSet: ["tabby", "siamese"])
            let pets = try await server.createProject("pets")
            let photo = try Fixtures.jpeg(width: 1600, height: 1200, seed: 1)
            // act
            let first = try await server.upload(photo, to: cats, name: "IMG_0001.jpg", labels: ["tabby"])
            let again = try await server.upload(photo, to: cats, labels: ["siamese"])
            let elsewhere = try await server.upload(photo, to: pets, labels: ["indoor"])
            // check
            #expect(first.status == .created)
            let body = try first.json()
            let image = try #require(body["image"] as? [String: Any])
            #expect(body["duplicate"] as? Bool == false)
            #expect(image["width"] as? Int == 1600 && image["height"] as? Int == 1200)
            #expect(image["format"] as? String == "jpeg" && image["media_type"] as? String == "image/jpeg")
            #expect(image["original_name"] as? String == "IMG_0001.jpg")
            #expect(image["bytes"] as? Int == photo.count)
            #expect(again.status == .ok)
            #expect(try again.json()["duplicate"] as? Bool == true)
            #expect(elsewhere.status == .created)
            // New to this project: whether another project holds the bytes is not the uploader's to know.
            #expect(try elsewhere.json()["duplicate"] as? Bool == false)
            let labels = (try again.json()["image"] as? [String: Any])?["labels"] as? [[String: Any]]
            #expect(labels?.compactMap { $0["name"] as? String } == ["siamese", "tabby"])
            #expect(labels?.allSatisfy { $0["source"] as? String == "human" } == true)
            // The upload made the small thumbnail; a job makes the large one.
            #expect(server.blobFiles().count >= 2)
            try await server.settle()
            // One original and two thumbnails on disk, one image row, two memberships.
            #expect(server.blobFiles().count == 3)
            #expect(try await server.rowCount("images") == 1)
            #expect(try await server.rowCount("project_images") == 2)
            #expect(server.scratchFiles().isEmpty)
            let sha256 = try #require(body["sha256"] as? String)
            let shown = try await server.get("/api/v1/images/\(sha256)").json()
            #expect(
                (shown["projects"] as? [[String: Any]])?.compactMap { $0["project_name"] as? String } == [
                    "cats", "pets",
                ])
        }
    }

    @Test(
        "the original comes back byte for byte with its type, ETag, 304 and byte ranges",
        arguments: TestDatabase.enabled)
    func original(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let png = try Fixtures.image(.png, width: 300, height: 300, seed: 4)
            let sha256 = try #require(
                try await server.upload(png, to: project, name: "a.png").json()["sha256"] as? String)
            let path = "/api/v1/images/\(sha256)/original"

            let whole = try await server.get(path)
            #expect(whole.status == .ok)
            #expect(whole.data == png)
            #expect(whole.headers[.contentType] == "image/png")
            #expect(whole.headers[.eTag] == "\"\(sha256)\"")
            #expect(whole.headers[.acceptRanges] == "bytes")
            // Photos are private: a shared cache must never keep one for whoever asks next.
            #expect(whole.headers[.cacheControl]?.hasPrefix("private") == true, "\(whole.headers)")

            let notModified = try await server.get(path, headers: [.ifNoneMatch: "\"\(sha256)\""])
            #expect(notModified.status == .notModified)

            let part = try await server.get(path, headers: [.range: "bytes=10-19"])
            #expect(part.status == .partialContent)
            #expect(part.data == png.subdata(in: 10..<20))
            #expect(part.headers[.contentRange] == "bytes 10-19/\(png.count)")

            let tail = try await server.get(path, headers: [.range: "bytes=-5"])
            #expect(tail.data == png.suffix(5))

            let beyond = try await server.get(path, headers: [.range: "bytes=\(png.count + 10)-"])
            #expect(beyond.status == .rangeNotSatisfiable)
            #expect(beyond.headers[.contentType] == "application/problem+json")
        }
    }

    @Test(
        "thumbnails are JPEGs of 256 and 1024 px, remade when lost, and other sizes are refused",
        arguments: TestDatabase.enabled)
    func thumbnails(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let sha256 = try #require(
                try await server.upload(try Fixtures.jpeg(width: 2000, height: 1000), to: project).json()["sha256"]
                    as? String)
            for size in [256, 1024] {
                let response = try await server.get("/api/v1/images/\(sha256)/thumbnail?size=\(size)")
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/jpeg")
                #expect(response.headers[.cacheControl]?.hasPrefix("private") == true, "\(response.headers)")
                let dimensions = try SyntheticImage.dimensions(of: response.data)
                #expect(dimensions.width == size && dimensions.height == size / 2)
            }
            // Lose the cached thumbnails: they are made again from the original.
            try FileManager.default.removeItem(at: server.settings.blobsDirectory.appendingPathComponent("thumbnails"))
            let remade = try await server.get("/api/v1/images/\(sha256)/thumbnail?size=256")
            #expect(remade.status == .ok)
            #expect(try SyntheticImage.dimensions(of: remade.data).width == 256)

            let wrong = try await server.get("/api/v1/images/\(sha256)/thumbnail?size=999")
            #expect(wrong.status == .badRequest)
            #expect(try wrong.json()["field"] as? String == "size")
        }
    }

    @Test("a gallery pages with cursors and filters by label", arguments: TestDatabase.enabled)
    func listing(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            for seed in 0..<5 {
                _ = try await server.upload(
                    try Fixtures.jpeg(width: 64, height: 64, seed: seed), to: project,
                    labels: [seed < 2 ? "cat" : "dog"])
            }
            var seen = 0
            var next: String? = "/api/v1/projects/\(project)/images?limit=2"
            var pages = 0
            while let path = next {
                let page = try await server.get(path).json()
                seen += (page["items"] as? [Any])?.count ?? 0
                pages += 1
                next = (page["next_cursor"] as? String).map {
                    "/api/v1/projects/\(project)/images?limit=2&cursor=\($0)"
                }
            }
            #expect(seen == 5 && pages == 3)
            let cats = try await server.get("/api/v1/projects/\(project)/images?label=cat").json()
            #expect((cats["items"] as? [Any])?.count == 2)
            let badCursor = try await server.get("/api/v1/projects/\(project)/images?cursor=nonsense")
            #expect(badCursor.status == .badRequest)
            let badLimit = try await server.get("/api/v1/projects/\(project)/images?limit=0")
            #expect(badLimit.status == .badRequest)
        }
    }

    @Test(
        "removing an image from a project deletes the blob only when no project holds it",
        arguments: TestDatabase.enabled)
    func deletion(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let a = try await server.createProject("a")
            let b = try await server.createProject("b")
            let photo = try Fixtures.jpeg(seed: 9)
            let sha256 = try #require(try await server.upload(photo, to: a).json()["sha256"] as? String)
            _ = try await server.upload(photo, to: b)
            try await server.settle()
            #expect(try await server.delete("/api/v1/projects/\(a)/images/\(sha256)").status == .noContent)
            #expect(server.blobFiles().count == 3)
            #expect(try await server.get("/api/v1/images/\(sha256)/original").status == .ok)
            #expect(try await server.delete("/api/v1/projects/\(b)/images/\(sha256)").status == .noContent)
            #expect(server.blobFiles().isEmpty)
            #expect(try await server.get("/api/v1/images/\(sha256)").status == .notFound)
            #expect(try await server.delete("/api/v1/projects/\(b)/images/\(sha256)").status == .notFound)
        }
    }

    @Test("deleting a project removes blobs no other project holds", arguments: TestDatabase.enabled)
    func projectDeletion(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let a = try await server.createProject("a")
            let b = try await server.createProject("b")
            let shared = try Fixtures.jpeg(seed: 1)
            let own = try Fixtures.jpeg(seed: 2)
            _ = try await server.upload(shared, to: a)
            _ = try await server.upload(shared, to: b)
            _ = try await server.upload(own, to: a)
            try await server.settle()
            #expect(server.blobFiles().count == 6)
            #expect(try await server.delete("/api/v1/projects/\(a)").status == .noContent)
            #expect(server.blobFiles().count == 3)
            #expect(try await server.rowCount("images") == 1)
            #expect(try await server.get("/api/v1/projects/\(a)").status == .notFound)
        }
    }

    @Test(
        "EXIF orientation and capture time reach the API; no GPS leaves through a thumbnail",
        arguments: TestDatabase.enabled)
    func exif(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let body = try await server.upload(
                try Fixtures.exifJPEG(width: 400, height: 200, orientation: 6), to: project
            ).json()
            let image = try #require(body["image"] as? [String: Any])
            #expect(image["width"] as? Int == 200 && image["height"] as? Int == 400)
            #expect(image["captured_at"] as? String == "2021-06-01T10:20:30Z")
            let sha256 = try #require(body["sha256"] as? String)
            let thumbnail = try await server.get("/api/v1/images/\(sha256)/thumbnail?size=1024").data
            #expect(try !SyntheticImage.metadataFields(of: thumbnail).contains { $0.hasPrefix("exif") })
        }
    }
}

@Suite("Checking hashes before uploading")
struct ImageCheckTests {
    @Test(
        "the check names the hashes already in the project, in the order asked, for that project only",
        arguments: TestDatabase.enabled)
    func check(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let cats = try await server.createProject("cats")
            let dogs = try await server.createProject("dogs")
            let photo = try Fixtures.jpeg(seed: 21)
            let other = try Fixtures.jpeg(seed: 22)
            let inCats = try #require(try await server.upload(photo, to: cats).json()["sha256"] as? String)
            let inDogs = try #require(try await server.upload(other, to: dogs).json()["sha256"] as? String)
            let unknown = String(repeating: "ab", count: 32)
            let path = "/api/v1/projects/\(cats)/images/check"
            let answer = try await server.send(.post, path, json: ["sha256": [unknown, inCats.uppercased(), inDogs]])
            #expect(answer.status == .ok, "\(answer.text)")
            #expect(try answer.json()["present"] as? [String] == [inCats])
            #expect(try answer.json()["missing"] as? [String] == [unknown, inDogs])
            #expect(
                try await server.send(.post, path, json: ["sha256": [String]()]).json()["present"] as? [String] == [])

            // The check's path is its own: other methods are 405 naming POST alone, not an image's DELETE.
            let wrong = try await server.get(path)
            #expect(wrong.status == .methodNotAllowed && wrong.headers[.allow] == "POST", "\(wrong.text)")

            // Bad input: a 400 naming the field.
            for payload in [
                ["sha256": ["abc"]], ["sha256": "not a list"], [:],
                ["sha256": Array(repeating: unknown, count: 1001)],
            ] as [[String: Any]] {
                let refused = try await server.send(.post, path, json: payload)
                #expect(refused.status == .badRequest, "\(payload.keys): \(refused.text)")
            }
            // Through a contributor link: its project's answer.
            let link = try await server.send(
                .post, "/api/v1/projects/\(dogs)/links", json: ["name": "walkers", "max_uploads": 5])
            let code = try #require(try link.json()["code"] as? String)
            let stranger = server.acting(as: [:])
            let viaLink = try await stranger.send(
                .post, "/api/v1/links/\(code)/images/check", json: ["sha256": [inCats, inDogs]])
            #expect(viaLink.status == .ok, "\(viaLink.text)")
            #expect(try viaLink.json()["present"] as? [String] == [inDogs])
            // A malformed code is refused as any link's is (401), before the body is read.
            #expect(
                try await stranger.send(.post, "/api/v1/links/nope/images/check", json: ["sha256": [inDogs]]).status
                    == .unauthorized)
            #expect(try await stranger.send(.post, path, json: ["sha256": [inCats]]).status == .unauthorized)
        }
    }
}
