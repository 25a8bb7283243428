import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisServer
import IrisServices
import IrisStore
import IrisTesting
import SQLKit
import Testing

/// The vector index answers what an exhaustive comparison answers, filters inside the scan,
/// and follows the database's change log; `/images/{sha256}/similar` shows each caller only
/// what they may see.
@Suite("Similar photos")
struct SimilarImagesTests {
    /// A deterministic generator, so a failure can be replayed.
    struct Numbers {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
    }

    @Test(
        "exact search equals comparing every vector; a group of 3 among 3000 answers its 3; hidden and removed stay out"
    )
    func index() {
        var numbers = Numbers(state: 7)
        var index = VectorIndex(dimension: 48)
        var stored: [String: ([Float], [Int64])] = [:]
        for item in 0..<3000 {
            let vector = (0..<48).map { _ in numbers.next() }
            let groups: [Int64] = item < 3 ? [99] : [Int64(item % 7), Int64(item % 5 + 10)]
            let key = String(format: "%064x", item)
            let stored1 = index.upsert(key, vector: vector, groups: groups)
            #expect(stored1)
            stored[key] = (vector, groups)
        }
        func unit(_ v: [Float]) -> [Float] {
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / n }
        }
        for round in 0..<20 {
            let query = (0..<48).map { _ in numbers.next() }
            let allowed: Set<Int64> = [Int64(round % 7), 12]
            let expected = stored.filter { !Set($0.value.1).isDisjoint(with: allowed) }
                .map { (key: $0.key, score: zip(unit(query), unit($0.value.0)).reduce(Float(0)) { $0 + $1.0 * $1.1 }) }
                .sorted { $0.score > $1.score }.prefix(10)
            let found = index.nearest(to: query, k: 10, in: allowed)
            #expect(found.map(\.key) == expected.map(\.key))
            for (hit, want) in zip(found, expected) { #expect(abs(hit.similarity - want.score) < 1e-4) }
            #expect(found.allSatisfy { allowed.contains($0.group) })
        }
        let query = stored[String(format: "%064x", 0)]!.0
        let small = index.nearest(to: query, k: 10, in: [99])
        #expect(small.count == 3 && small.first?.key == String(format: "%064x", 0))
        let hidden = index.nearest(to: query, k: 10, in: [99], hidden: [99: [String(format: "%064x", 1)]])
        #expect(hidden.map(\.key).sorted() == [String(format: "%064x", 0), String(format: "%064x", 2)])
        index.remove(String(format: "%064x", 0))
        #expect(index.nearest(to: query, k: 10, in: [99]).count == 2)
        let zero = index.upsert("bad", vector: [Float](repeating: 0, count: 48), groups: [1])
        let short = index.upsert("bad", vector: [1, 2], groups: [1])
        #expect(!zero && !short)
        #expect(index.count == 2999)
    }

    @Test(
        "the clustered index finds what exact search finds, keeps up with upserts and removals, and a filter never empties it"
    )
    func clustered() {
        var numbers = Numbers(state: 11)
        // 40 clusters of 150 vectors around random centres, 32 dimensions.
        let centres = (0..<40).map { _ in (0..<32).map { _ in numbers.next() } }
        var index = VectorIndex(dimension: 32)
        for item in 0..<6000 {
            let centre = centres[item % 40]
            let vector = centre.map { $0 + 0.3 * numbers.next() }
            index.upsert(String(format: "%064x", item), vector: vector, groups: item % 100 == 0 ? [7] : [1])
        }
        index.cluster(lists: 40, threads: 2)
        #expect(index.clusterCount == 40)
        var found = 0
        var queries: [[Float]] = []
        for round in 0..<50 {
            let query = centres[round % 40].map { $0 + 0.3 * numbers.next() }
            queries.append(query)
            let exact = Set(index.nearest(to: query, k: 10, in: nil, threads: 2).map(\.key))
            let approximate = index.nearest(to: query, k: 10, in: nil, probes: 4)
            #expect(approximate.count == 10)
            found += Set(approximate.map(\.key)).intersection(exact).count
        }
        #expect(Double(found) / 500 >= 0.95, "recall@10 \(Double(found) / 500)")
        // All but 10 vectors (one in each of 10 clusters) left out: one list holds at most one
        // of them, so more lists are probed until the 10 are found.
        let kept = (0..<10).map { String(format: "%064x", $0 * 41) }
        let excluded = Set((0..<6000).map { String(format: "%064x", $0) }).subtracting(kept)
        let filtered = index.nearest(to: queries[0], k: 10, in: nil, excluding: excluded, probes: 1)
        #expect(Set(filtered.map(\.key)) == Set(kept))
        // A new vector is listed at once; a removed one is gone.
        let fresh = centres[3].map { $0 + 0.01 }
        index.upsert("new", vector: fresh, groups: [1])
        #expect(index.nearest(to: fresh, k: 1, in: nil, probes: 2).first?.key == "new")
        index.remove("new")
        #expect(index.nearest(to: fresh, k: 10, in: nil, probes: 2).allSatisfy { $0.key != "new" })
        let moved = String(format: "%064x", 5)
        index.upsert(moved, vector: fresh, groups: [1])
        #expect(index.nearest(to: fresh, k: 1, in: nil, probes: 2).first?.key == moved)
    }

    @Test("a large scan split over two threads answers what one thread answers, exact and clustered")
    func threads() {
        var numbers = Numbers(state: 5)
        var index = VectorIndex(dimension: 16)
        for item in 0..<70_000 {
            index.upsert(String(format: "%064x", item), vector: (0..<16).map { _ in numbers.next() }, groups: [1])
        }
        index.cluster(lists: 4, sample: 4096, iterations: 4, threads: 2)
        for _ in 0..<5 {
            let query = (0..<16).map { _ in numbers.next() }
            let one = index.nearest(to: query, k: 10, in: nil, threads: 1)
            #expect(one.count == 10)
            #expect(index.nearest(to: query, k: 10, in: nil, threads: 2) == one)
            // Two of four lists hold well over 16,384 vectors: shared out between the threads.
            #expect(
                index.nearest(to: query, k: 10, in: nil, probes: 2, threads: 2)
                    == index.nearest(to: query, k: 10, in: nil, probes: 2, threads: 1))
        }
    }

    /// Eight-dimensional embeddings stored as a model's output: `a0`'s neighbours in A are
    /// a1, a2, a3 in that order; `b0`, only in B, is nearer than all of them.
    static func vector(_ angle: Double) -> [Float] {
        [Float(cos(angle)), Float(sin(angle)), 0.1, 0, 0, 0, 0, 0]
    }

    @Test(
        "a viewer of A sees A's neighbours only, in order; removal and flags apply at once; bad input is a 400",
        arguments: TestDatabase.enabled)
    func api(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let projectB = try await server.createProject("bravo-secret")
            let projectA = try await server.createProject("alpha")
            var a: [String] = []
            for seed in 0..<4 {
                a.append(
                    try #require(
                        try await server.upload(try Fixtures.jpeg(seed: 300 + seed), to: projectA, name: "a\(seed).jpg")
                            .json()["sha256"] as? String))
            }
            let b0 = try #require(
                try await server.upload(try Fixtures.jpeg(seed: 310), to: projectB).json()["sha256"] as? String)
            let angles = [0.0, 0.2, 0.5, 0.9]
            for (sha256, angle) in zip(a + [b0], angles + [0.05]) {
                _ = try await server.store.analyses.save(
                    Analysis(sha256: sha256, model: "mobilenet-v2", result: "{}", createdAt: Date()), labels: [],
                    embedding: Self.vector(angle), moderation: nil)
            }
            let viewer = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "vera", password: "vera-password", isAdmin: false)
            try await server.store.accounts.setRole(projectID: projectA, userID: viewer.id, .viewer)
            let asViewer = server.acting(
                as: TestServer.bearer(try await TestAccounts.token(for: viewer, scopes: [.read], in: server.store)))

            func similar(_ caller: TestServer, _ query: String = "") async throws -> [[String: Any]] {
                let response = try await caller.get("/api/v1/images/\(a[0])/similar\(query)")
                #expect(response.status == .ok, "\(response.text)")
                #expect(!response.text.contains("bravo") || caller.identity == server.identity)
                return try #require(try response.json()["items"] as? [[String: Any]])
            }
            let seen = try await similar(asViewer)
            #expect(seen.compactMap { $0["sha256"] as? String } == [a[1], a[2], a[3]])
            #expect(seen.allSatisfy { $0["project_id"] as? Int == Int(projectA) })
            // Each named as it was uploaded to the project it is seen in.
            #expect(seen.compactMap { $0["original_name"] as? String } == ["a1.jpg", "a2.jpg", "a3.jpg"])
            let first = try #require(seen.first?["similarity"] as? Double)
            #expect(first > 0.9 && first < 1)
            // The administrator sees B's nearer photo too, or only A's when asking within A.
            #expect(try await similar(server).first?["sha256"] as? String == b0)
            #expect(
                try await similar(server, "?project_id=\(projectA)").compactMap { $0["sha256"] as? String } == [
                    a[1], a[2], a[3],
                ])

            // Removed from A: gone from the next answer (the index follows the change log).
            #expect(try await server.delete("/api/v1/projects/\(projectA)/images/\(a[1])").status == .noContent)
            #expect(try await similar(asViewer).compactMap { $0["sha256"] as? String } == [a[2], a[3]])
            // Flagged in A: hidden from the viewer, shown to the administrator.
            let flagged = a[2]
            try await server.store.database.withConnection { db in
                try await db.raw("UPDATE images SET moderation = 0.99 WHERE sha256 = \(bind: flagged)").run()
            }
            #expect(try await similar(asViewer).compactMap { $0["sha256"] as? String } == [a[3]])
            #expect(
                try await similar(server, "?project_id=\(projectA)").compactMap { $0["sha256"] as? String } == [
                    a[2], a[3],
                ])

            // What the viewer may not see is a 404, whatever is asked; bad input is a 400 naming it.
            #expect(try await asViewer.get("/api/v1/images/\(b0)/similar").status == .notFound)
            #expect(try await asViewer.get("/api/v1/images/\(a[0])/similar?project_id=\(projectB)").status == .notFound)
            for (query, field) in [
                ("limit=0", "limit"), ("limit=201", "limit"), ("limit=-3", "limit"), ("project_id=abc", "project_id"),
                ("model=nope", "model"),
            ] {
                let refused = try await asViewer.get("/api/v1/images/\(a[0])/similar?\(query)")
                #expect(refused.status == .badRequest, "\(query): \(refused.text)")
                #expect(try refused.json()["field"] as? String == field, "\(query.prefix(40)): \(refused.text)")
            }
            // An image no embedding model has analysed: no items, and why.
            let fresh = try #require(
                try await server.upload(try Fixtures.jpeg(seed: 320), to: projectA).json()["sha256"] as? String)
            let none = try await server.get("/api/v1/images/\(fresh)/similar").json()
            #expect(
                (none["items"] as? [Any])?.isEmpty == true
                    && (none["detail"] as? String)?.contains("no embedding") == true)
        }
    }
}
