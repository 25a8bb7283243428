import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisBlobs
import IrisCore
import IrisServices
import IrisStore
import IrisTesting
import Testing

@Suite("Dataset exports")
struct ExportTests {
    /// The zip's entry names (and the text of one entry).
    static func entries(_ data: Data, reading name: String? = nil) throws -> (names: [String], text: String?) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString).zip")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let archive = try ZipArchive(url: file, maxEntries: 10_000)
        var text: String?
        if let name, let entry = archive.entries.first(where: { $0.path == name }) {
            var bytes = Data()
            try archive.read(entry) { bytes.append(contentsOf: $0) }
            text = String(decoding: bytes, as: UTF8.self)
        }
        return (archive.entries.map(\.path), text)
    }

    @Test(
        "an export job writes the layout asked for, split by class, served with ranges to editors only, until it expires",
        arguments: TestDatabase.enabled)
    func export(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("Street trees")
            for seed in 0..<25 {
                let labels = seed < 11 ? ["oak"] : seed < 21 ? ["plane"] : []
                let response = try await server.upload(
                    try Fixtures.jpeg(width: 64, height: 48, seed: 300 + seed), to: project, name: "tree\(seed).jpg",
                    labels: seed == 0 ? ["oak", "plane"] : labels)
                #expect(response.status == .created)
            }
            let path = "/api/v1/projects/\(project)/exports"
            let queued = try await server.send(.post, path, json: ["format": "imagefolder", "split": true])
            #expect(queued.status == .accepted, "\(queued.text)")
            let location = try #require(queued.headers[.location])
            try await server.settle()
            let zip = try await server.get(location)
            #expect(zip.status == .ok && zip.headers[.contentType] == "application/zip", "\(zip.text.prefix(300))")
            #expect(zip.headers[.contentDisposition]?.contains("street-trees-imagefolder.zip") == true)
            let names = try Self.entries(zip.data).names
            // 21 labelled images, one in two classes; the 4 unlabelled ones are left out.
            #expect(names.count == 22, "\(names)")
            func count(_ split: String, _ label: String) -> Int {
                names.filter { $0.hasPrefix("\(split)/\(label)/") }.count
            }
            // Oak: 11 images (the first by name sort also plane) → 8 / 1 / 2; plane's first label is
            // "oak" for the shared one, so plane's class holds 10 → 7 / 1 / 2 (and the shared one
            // follows oak's split).
            #expect(count("train", "oak") + count("val", "oak") + count("test", "oak") == 11)
            #expect(count("train", "oak") == 8 && count("val", "oak") == 1 && count("test", "oak") == 2, "\(names)")
            #expect(
                names.allSatisfy {
                    $0.range(
                        of: #"^(train|val|test)/(oak|plane)/tree\d+-[0-9a-f]{8}\.jpg$"#, options: .regularExpression)
                        != nil
                })
            // The same export again is split the same way.
            let again = try await server.send(.post, path, json: ["format": "imagefolder", "split": true])
            try await server.settle()
            let second = try await server.get(try #require(again.headers[.location]))
            #expect(Set(try Self.entries(second.data).names) == Set(names))

            // CSV: every image, the unlabelled too, and the two labels of the shared one.
            let csvJob = try await server.send(.post, path, json: ["format": "csv"])
            try await server.settle()
            let csvLocation = try #require(csvJob.headers[.location])
            let csv = try Self.entries(try await server.get(csvLocation).data, reading: "labels.csv")
            let lines = try #require(csv.text).split(separator: "\n")
            #expect(lines.first == "path,labels,source,confidence,sha256,split" && lines.count == 26)
            #expect(lines.contains { $0.contains(",oak;plane,human;human,") })
            // A byte range of the zip.
            let part = try await server.get(csvLocation, headers: [.range: "bytes=0-3"])
            #expect(part.status == .partialContent && part.data == Data([0x50, 0x4B, 0x03, 0x04]))

            // Bad requests: 400 naming the field; nothing queued.
            let jobsBefore = try await server.rowCount("jobs")
            for (payload, field) in [
                (["format": "tar"] as [String: Any], "format"),
                (["format": "csv", "include": ["model_confidence": 2]], "include.model_confidence"),
                (["format": "csv", "include": ["human": false, "learner": false]], "include"),
            ] {
                let refused = try await server.send(.post, path, json: payload)
                #expect(refused.status == .badRequest, "\(payload): \(refused.text)")
                #expect(try refused.json()["field"] as? String == field)
            }
            #expect(try await server.rowCount("jobs") == jobsBefore)
            #expect(try await server.get("\(path)/999999").status == .notFound)
            // Another project's export is not reachable through this one, even by its owner.
            let other = try await server.createProject("Other trees")
            let csvJobID = try #require(csvLocation.split(separator: "/").last)
            #expect(try await server.get("/api/v1/projects/\(other)/exports/\(csvJobID)").status == .notFound)
            // A viewer may not export or download.
            let viewer = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "vic", password: "vic-password", isAdmin: false)
            try await server.store.accounts.setRole(projectID: project, userID: viewer.id, .viewer)
            let asViewer = server.acting(
                as: TestServer.bearer(
                    try await TestAccounts.token(for: viewer, scopes: [.read, .write], in: server.store)))
            #expect(try await asViewer.send(.post, path, json: ["format": "csv"]).status == .forbidden)
            #expect(try await asViewer.get(csvLocation).status == .forbidden)
            #expect(try await server.rowCount("jobs") == jobsBefore)

            // After the retention period the cleanup removes the zips, and downloading says so.
            let removed = try await ExportJob.expire(
                store: server.store, blobs: server.dependencies.blobs,
                now: Date().addingTimeInterval((ExportJob.retentionHours + 1) * 3600))
            #expect(removed == 3)
            let gone = try await server.get(csvLocation)
            #expect(gone.status == .gone, "\(gone.text)")
        }
    }

    @Test("labels a spreadsheet would run as formulas are exported as text", arguments: TestDatabase.enabled)
    func csvFormulas(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: a contributor's labels that Excel and LibreOffice would evaluate.
            let project = try await server.createProject("Crowd")
            let hostile = ["=HYPERLINK(\"http://evil.example\";\"x\")", "+1+2", "-3", "@SUM(A1)"]
            for (seed, label) in hostile.enumerated() {
                let response = try await server.upload(
                    try Fixtures.jpeg(width: 64, height: 48, seed: 900 + seed), to: project, labels: [label])
                #expect(response.status == .created, "\(label): \(response.text)")
            }

            // act
            let job = try await server.send(.post, "/api/v1/projects/\(project)/exports", json: ["format": "csv"])
            try await server.settle()
            let csv = try Self.entries(
                try await server.get(try #require(job.headers[.location])).data, reading: "labels.csv")

            // check: every such cell starts with an apostrophe, and no cell starts with a formula.
            let cells = try #require(csv.text).split(separator: "\n").dropFirst().map {
                $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingPrefix("\"") }
            }
            #expect(cells.count == hostile.count)
            #expect(
                cells.allSatisfy { row in row.allSatisfy { cell in !"=+-@".contains(cell.first ?? " ") } }, "\(cells)")
            #expect(cells.compactMap { $0.dropFirst().first }.filter { $0.hasPrefix("'") }.count == hostile.count)
        }
    }
}
