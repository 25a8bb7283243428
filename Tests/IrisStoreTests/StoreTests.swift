import Foundation
import IrisCore
import IrisStore
import IrisTesting
import Testing

func sampleImage(_ seed: Int, bytes: Int64 = 1000) -> ImageRecord {
    let sha256 = String(repeating: String(format: "%02x", seed % 256), count: 32)
    return ImageRecord(
        sha256: sha256, format: .jpeg, width: 640, height: 480, bytes: bytes, capturedAt: nil, createdAt: Date())
}

@Suite("Projects in the database")
struct ProjectRepositoryTests {
    @Test("create, find, rename, clear a label set, list in pages, delete", arguments: TestDatabase.enabled)
    func lifecycle(database: TestDatabase) async throws {
        try await database.withStore { store in
            // act
            let cats = try await store.projects.create(
                name: "cats", description: "felines", labelSet: ["tabby", "siamese"])
            let dogs = try await store.projects.create(name: "dogs", description: "", labelSet: nil)
            let renamed = try await store.projects.update(
                id: cats.id, ProjectPatch(name: "big cats", labelSet: .some(nil)))
            // check
            #expect(renamed.name == "big cats")
            #expect(renamed.labelSet == nil)
            #expect(try await store.projects.find(id: cats.id)?.description == "felines")
            #expect(try await store.projects.find(name: "dogs")?.id == dogs.id)
            let first = try await store.projects.list(after: nil, limit: 1, only: nil)
            let second = try await store.projects.list(after: first.last?.id, limit: 1, only: nil)
            #expect(first.map(\.name) == ["big cats"])
            #expect(second.map(\.name) == ["dogs"])
            _ = try await store.projects.delete(id: dogs.id)
            #expect(try await store.projects.find(id: dogs.id) == nil)
        }
    }

    @Test("a taken name is a 409 and an unknown id a 404", arguments: TestDatabase.enabled)
    func conflicts(database: TestDatabase) async throws {
        try await database.withStore { store in
            let first = try await store.projects.create(name: "one", description: "", labelSet: nil)
            _ = try await store.projects.create(name: "two", description: "", labelSet: nil)
            await #expect(throws: StoreError.conflict("a project named \"one\" already exists", field: "name")) {
                try await store.projects.create(name: "one", description: "", labelSet: nil)
            }
            await #expect(throws: StoreError.self) {
                try await store.projects.update(id: first.id, ProjectPatch(name: "two"))
            }
            await #expect(throws: StoreError.notFound("no project has id 999")) {
                try await store.projects.update(id: 999, ProjectPatch())
            }
            await #expect(throws: StoreError.notFound("no project has id 999")) {
                _ = try await store.projects.delete(id: 999)
            }
        }
    }

    @Test("migrating twice changes nothing", arguments: TestDatabase.enabled)
    func migrationsIdempotent(database: TestDatabase) async throws {
        try await database.withStore { store in
            let applied = try await Migrator(database: store.database).migrate()
            #expect(applied.isEmpty)
        }
    }
}

@Suite("Images, memberships and labels in the database")
struct ImageRepositoryTests {
    @Test("the same image in two projects is one image row with per-project labels", arguments: TestDatabase.enabled)
    func sharedAcrossProjects(database: TestDatabase) async throws {
        try await database.withStore { store in
            // setup
            let a = try await store.projects.create(name: "a", description: "", labelSet: nil)
            let b = try await store.projects.create(name: "b", description: "", labelSet: nil)
            let image = sampleImage(1)
            // act
            let first = try await store.images.add(
                image, to: a.id, labels: [Label(name: "cat")], originalName: "x.jpg", linkID: nil)
            let again = try await store.images.add(
                image, to: a.id, labels: [Label(name: "pet"), Label(name: "cat")], originalName: "x.jpg", linkID: nil)
            let other = try await store.images.add(
                image, to: b.id, labels: [Label(name: "dog", source: "mobilenet-v2", confidence: 0.8)],
                originalName: nil, linkID: nil)
            // check
            #expect(!first.imageExisted && !first.alreadyInProject)
            #expect(again.imageExisted && again.alreadyInProject)
            #expect(other.imageExisted && !other.alreadyInProject)
            #expect(again.member.labels.map(\.name) == ["cat", "pet"])
            #expect(other.member.labels == [Label(name: "dog", source: "mobilenet-v2", confidence: 0.8)])
            #expect(try await store.images.allSHA256() == [image.sha256])
            let memberships = try await store.images.memberships(sha256: image.sha256)
            #expect(memberships.map(\.projectName) == ["a", "b"])
        }
    }

    @Test(
        "an addition's events commit with it, and a refused addition leaves no event", arguments: TestDatabase.enabled)
    func eventsCommitWithTheAddition(database: TestDatabase) async throws {
        try await database.withStore { store in
            let project = try await store.projects.create(name: "p", description: "", labelSet: nil)
            let uploaded: @Sendable (ImageAddition) -> [Event] = { addition in
                [
                    Event(
                        actorKind: "system", actorID: nil, actorName: "test", action: "image.uploaded",
                        projectID: addition.member.projectID, subject: addition.member.image.sha256,
                        detail: ["duplicate": String(addition.alreadyInProject)])
                ]
            }
            _ = try await store.images.add(
                sampleImage(1), to: project.id, labels: [], originalName: nil, linkID: nil, review: .accepted,
                jobs: [], events: uploaded)
            _ = try await store.images.add(
                sampleImage(1), to: project.id, labels: [], originalName: nil, linkID: nil, review: .accepted,
                jobs: [], events: uploaded)
            await #expect(throws: StoreError.self) {
                _ = try await store.images.add(
                    sampleImage(2), to: project.id + 1, labels: [], originalName: nil, linkID: nil,
                    review: .accepted, jobs: [], events: uploaded)
            }
            let events = try await store.events.list(afterID: 0, projectIDs: nil, limit: 10)
            #expect(events.map(\.subject) == [sampleImage(1).sha256, sampleImage(1).sha256])
            #expect(events.map { $0.detail["duplicate"] } == ["false", "true"])
        }
    }

    @Test(
        "listing pages newest first, filters by label, and the last page has no cursor", arguments: TestDatabase.enabled
    )
    func pagination(database: TestDatabase) async throws {
        try await database.withStore { store in
            let project = try await store.projects.create(name: "p", description: "", labelSet: nil)
            for seed in 1...5 {
                _ = try await store.images.add(
                    sampleImage(seed), to: project.id, labels: [Label(name: seed.isMultiple(of: 2) ? "even" : "odd")],
                    originalName: nil, linkID: nil)
            }
            var seen: [String] = []
            var cursor: Int64?
            repeat {
                let page = try await store.images.list(
                    projectID: project.id, filter: ImageFilter(), after: cursor, limit: 2)
                seen += page.items.map(\.image.sha256)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == (1...5).reversed().map { sampleImage($0).sha256 })
            let even = try await store.images.list(
                projectID: project.id, filter: ImageFilter(label: "even"), after: nil, limit: 10)
            #expect(even.items.map(\.image.sha256) == [4, 2].map { sampleImage($0).sha256 })
            #expect(even.nextCursor == nil)
        }
    }

    @Test("removing an image deletes its row only when no project holds it", arguments: TestDatabase.enabled)
    func removal(database: TestDatabase) async throws {
        try await database.withStore { store in
            let a = try await store.projects.create(name: "a", description: "", labelSet: nil)
            let b = try await store.projects.create(name: "b", description: "", labelSet: nil)
            let shared = sampleImage(1)
            let only = sampleImage(2)
            _ = try await store.images.add(shared, to: a.id, labels: [Label(name: "x")], originalName: nil, linkID: nil)
            _ = try await store.images.add(shared, to: b.id, labels: [], originalName: nil, linkID: nil)
            _ = try await store.images.add(only, to: a.id, labels: [], originalName: nil, linkID: nil)
            #expect(try await store.images.remove(sha256: shared.sha256, from: a.id) == false)
            #expect(try await store.images.find(sha256: shared.sha256) != nil)
            #expect(try await store.images.member(sha256: shared.sha256, of: a.id) == nil)
            let orphans = try await store.projects.delete(id: a.id)
            #expect(orphans == [only.sha256])
            #expect(try await store.images.find(sha256: only.sha256) == nil)
            #expect(try await store.images.remove(sha256: shared.sha256, from: b.id) == true)
            await #expect(throws: StoreError.self) {
                _ = try await store.images.remove(sha256: shared.sha256, from: b.id)
            }
        }
    }

    @Test("concurrent adds of the same bytes leave one image row", arguments: TestDatabase.enabled)
    func concurrentAdds(database: TestDatabase) async throws {
        try await database.withStore { store in
            let project = try await store.projects.create(name: "p", description: "", labelSet: nil)
            let image = sampleImage(9)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        _ = try await store.images.add(
                            image, to: project.id, labels: [Label(name: "l\(index % 2)")], originalName: nil,
                            linkID: nil)
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.images.allSHA256() == [image.sha256])
            #expect(
                try await store.images.member(sha256: image.sha256, of: project.id)?.labels.map(\.name) == ["l0", "l1"])
        }
    }
}

@Suite("The full-text index of text read in images")
struct AnalysisTextTests {
    @Test(
        "words read by a model are found as whole words and phrases, in any case; replaced and removed results leave it; a result that is not JSON is stored",
        arguments: TestDatabase.enabled)
    func index(database: TestDatabase) async throws {
        try await database.withStore { store in
            let project = try await store.projects.create(name: "signs", description: "", labelSet: nil)
            let (sign, page, photo) = (sampleImage(41), sampleImage(42), sampleImage(43))
            for image in [sign, page, photo] {
                _ = try await store.images.add(image, to: project.id, labels: [], originalName: nil, linkID: nil)
            }
            func read(_ image: ImageRecord, _ lines: [String], model: String = "ppocr-v4") async throws {
                let text = lines.map { #"{"text":"\#($0)","confidence":0.9}"# }.joined(separator: ",")
                _ = try await store.analyses.save(
                    Analysis(sha256: image.sha256, model: model, result: #"{"text":[\#(text)]}"#, createdAt: Date()),
                    labels: [], embedding: nil, moderation: nil)
            }
            try await read(sign, ["GIVE", "WAY"])
            try await read(page, ["Region-based segmentation", "the markers of the coins"])
            // Another model's labels, and a result that is not JSON at all: stored, not indexed.
            _ = try await store.analyses.save(
                Analysis(sha256: photo.sha256, model: "mobilenet-v2", result: #"{"labels":[]}"#, createdAt: Date()),
                labels: [], embedding: nil, moderation: nil)
            _ = try await store.analyses.save(
                Analysis(sha256: photo.sha256, model: "odd", result: "not json", createdAt: Date()), labels: [],
                embedding: nil, moderation: nil)
            func found(_ words: String, models: [String] = ["ppocr-v4"]) async throws -> [String] {
                try await store.search.textHits(models: models, containing: words, in: [project.id], limit: 10).map(
                    \.sha256)
            }
            #expect(try await found("segmentation") == [page.sha256])
            #expect(try await found("MARKERS") == [page.sha256])
            #expect(try await found("give way") == [sign.sha256])
            #expect(try await found("way give").isEmpty)  // a phrase, in its order
            #expect(try await found("seg").isEmpty)  // whole words only
            #expect(try await found("segmentation", models: ["mobilenet-v2"]).isEmpty)
            #expect(try await store.search.textHits(models: ["ppocr-v4"], containing: "way", in: [], limit: 10).isEmpty)
            // Read again: the old words go; removed: nothing is left.
            try await read(sign, ["STOP"])
            #expect(try await found("way").isEmpty)
            #expect(try await found("stop") == [sign.sha256])
            _ = try await store.images.remove(sha256: sign.sha256, from: project.id)
            #expect(try await found("stop").isEmpty)
        }
    }
}
