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

/// Text search: `/api/v1/search` ranks real photographs by what MobileNetV2 saw, their labels and the text
/// read in them, showing each caller only what they may see.
@Suite("Text search")
struct TextSearchTests {
    @Test(
        "real photographs found by a category, a label beneath a word, printed text; nothing of another project; bad input is a 400",
        arguments: TestDatabase.enabled)
    func api(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.models.autoModels = ["mobilenet-v2", "ppocr-v4"] }) {
            server in
            let projectB = try await server.createProject("bravo-secret")
            let projectA = try await server.createProject("alpha")
            func upload(_ name: String, to project: Int64, labels: [String] = []) async throws -> String {
                let data = try Data(contentsOf: TestModels.photo(name))
                let response = try await server.upload(data, to: project, name: name, labels: labels)
                return try #require(try response.json()["sha256"] as? String, "\(response.text)")
            }
            let cat = try await upload("chelsea.png", to: projectA)
            let coffee = try await upload("coffee.png", to: projectA)
            let motorcycle = try await upload("motorcycle_left.png", to: projectA)
            let page = try await upload("page.png", to: projectA)
            // A photo whose label, not its pixels, says what it is; and one only B holds.
            let labelled = try await upload("rocket.jpg", to: projectA, labels: ["malamute"])
            let secret = try await upload("astronaut.png", to: projectB, labels: ["bravo-secret-label"])
            try await server.settle(timeout: 180)

            func search(_ caller: TestServer, _ query: String, _ filters: String = "") async throws -> [[String: Any]] {
                let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
                let response = try await caller.get("/api/v1/search?q=\(encoded)\(filters)")
                #expect(response.status == .ok, "\(query): \(response.text)")
                return try #require(try response.json()["items"] as? [[String: Any]])
            }
            func hashes(_ items: [[String: Any]]) -> [String] { items.compactMap { $0["sha256"] as? String } }

            // A category: the cat (through WordNet, the path shown) and the photo labelled with a
            // kind of dog are the two mammals; the coffee is not one.
            let mammals = try await search(server, "mammal")
            #expect(Set(hashes(mammals).prefix(2)) == [cat, labelled], "\(mammals)")
            let catItem = try #require(mammals.first { $0["sha256"] as? String == cat })
            let reason = try #require((catItem["reasons"] as? [[String: Any]])?.first)
            #expect(reason["kind"] as? String == "model_label")
            #expect((reason["path"] as? [String])?.last == "mammal")
            #expect(!hashes(mammals).contains(coffee))
            // A category of objects, and a plain noun.
            #expect(hashes(try await search(server, "a vehicle")).first == motorcycle)
            #expect(hashes(try await search(server, "cup")).first == coffee)
            // A label beneath the word: "malamute" is a dog.
            let dogs = try await search(server, "dog")
            #expect(hashes(dogs).first == labelled)
            #expect((dogs.first?["reasons"] as? [[String: Any]])?.first?["kind"] as? String == "label")
            // Printed text: a word on the scanned page (its heading is "Region-based segmentation").
            let printed = try await search(server, "segmentation")
            #expect(hashes(printed) == [page], "\(printed)")
            // By meaning, where no word names a class: the sentence model places the query near
            // the coffee's classes (espresso, cup).
            // (The model loads in the background after the server starts; searches go by words until then.)
            func meant(_ items: [[String: Any]]) -> Bool {
                (items.first?["reasons"] as? [[String: Any]])?.contains { $0["kind"] as? String == "meaning" } == true
            }
            var drinks = try await search(server, "something to drink")
            let deadline = ContinuousClock.now + .seconds(180)
            while !meant(drinks), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
                drinks = try await search(server, "something to drink")
            }
            #expect(hashes(drinks).first == coffee, "\(drinks)")
            #expect(meant(drinks))
            // Nothing relevant: nothing scores high.
            for nothing in ["zebra", "qwxz blorf"] {
                #expect(
                    try await search(server, nothing).allSatisfy { ($0["score"] as? Double ?? 1) < 0.2 }, "\(nothing)")
            }

            // A viewer of A never sees B's photo, nor its label.
            let viewer = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "vera", password: "vera-password", isAdmin: false)
            try await server.store.accounts.setRole(projectID: projectA, userID: viewer.id, .viewer)
            let asViewer = server.acting(
                as: TestServer.bearer(try await TestAccounts.token(for: viewer, scopes: [.read], in: server.store)))
            for query in ["astronaut", "bravo-secret-label", "person", "mammal"] {
                let items = try await search(asViewer, query)
                #expect(!hashes(items).contains(secret), "\(query)")
                #expect(!"\(items)".contains("bravo"), "\(query)")
            }
            #expect(hashes(try await search(server, "bravo-secret-label")) == [secret])
            #expect(try await asViewer.get("/api/v1/search?q=cat&project_id=\(projectB)").status == .notFound)
            // Flagged in A: hidden from the viewer.
            try await server.store.database.withConnection { db in
                try await db.raw("UPDATE images SET moderation = 0.99 WHERE sha256 = \(bind: cat)").run()
            }
            #expect(!hashes(try await search(asViewer, "mammal")).contains(cat))
            #expect(hashes(try await search(server, "mammal")).contains(cat))

            // Filters narrow every candidate before ranking: by label (any case), by model label,
            // by date, by flag (which a viewer never gets).
            #expect(hashes(try await search(server, "mammal", "&label=MALAMUTE")) == [labelled])
            let catLabel = try #require(
                try await server.store.database.withConnection { db in
                    try await db.raw(
                        "SELECT label FROM model_labels WHERE sha256 = \(bind: cat) ORDER BY score DESC"
                    ).first()?.decode(column: "label", as: String.self)
                })
            let byModel = try await search(
                server, "mammal",
                "&model_label=\(catLabel.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
            #expect(hashes(byModel) == [cat], "\(catLabel): \(byModel)")
            #expect(try await search(server, "mammal", "&from=2999-01-01").isEmpty)
            #expect(Set(hashes(try await search(server, "mammal", "&to=2999-01-01"))).isSuperset(of: [cat, labelled]))
            #expect(hashes(try await search(server, "mammal", "&flagged=true")) == [cat])
            #expect(!hashes(try await search(server, "mammal", "&flagged=false")).contains(cat))
            #expect(try await search(asViewer, "mammal", "&flagged=true").isEmpty)

            // Pages: the cursor goes on, and belongs to its query.
            let first = try await server.get("/api/v1/search?q=object&limit=1").json()
            let cursor = try #require(first["next_cursor"] as? String)
            let second = try await server.get("/api/v1/search?q=object&limit=1&cursor=\(cursor)").json()
            #expect(
                hashes(second["items"] as? [[String: Any]] ?? []) != hashes(first["items"] as? [[String: Any]] ?? []))
            // Bad input: a 400 naming what was wrong, never a 500.
            let long = String(repeating: "horse ", count: 2000)
            for (query, field) in [
                ("", "q"), ("q=", "q"), ("q=\(long)", "q"), ("q=cat%07", "q"), ("q=cat&limit=-1", "limit"),
                ("q=cat&limit=100000", "limit"), ("q=cat&cursor=\(cursor)", "cursor"), ("q=cat&cursor=abc", "cursor"),
                ("q=cat&project_id=x", "project_id"), ("q=cat&from=yesterday", "from"), ("q=cat&to=2024-13-45", "to"),
                ("q=cat&from=2024-06-02&to=2024-06-01", "from"), ("q=cat&flagged=maybe", "flagged"),
                ("q=cat&label=%07", "label"), ("q=cat&model_label=", "model_label"),
            ] {
                let refused = try await server.get("/api/v1/search?\(query.replacingOccurrences(of: " ", with: "+"))")
                #expect(refused.status == .badRequest, "\(query.prefix(40)): \(refused.status) \(refused.text)")
                #expect(try refused.json()["field"] as? String == field, "\(query.prefix(40)): \(refused.text)")
            }
            // Any script is a query (here matching nothing), not an error.
            let greek = "%CE%B3%CE%AC%CF%84%CE%B1"
            #expect(try await server.get("/api/v1/search?q=\(greek)").status == .ok)
        }
    }
}
