import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisServices
import IrisTesting
import NIOCore
import Testing

/// Imports of the layouts an export writes (ImageFolder, YOLO, CSV, COCO, Label Studio) and of
/// datasets other tools made, over HTTP.
@Suite("Dataset imports in every export format", .timeLimit(.minutes(5)))
struct DatasetImportTests {
    /// Each photo of a project (by SHA-256) with its labels' names, sorted, as the API lists them;
    /// fails the test if a label's source is not `human`.
    static func labels(of project: Int64, on server: TestServer) async throws -> [String: [String]] {
        let page = try await server.get("/api/v1/projects/\(project)/images?limit=100").json()
        let items = try #require(page["items"] as? [[String: Any]])
        var result: [String: [String]] = [:]
        for item in items {
            let labels = item["labels"] as? [[String: Any]] ?? []
            #expect(labels.allSatisfy { $0["source"] as? String == "human" }, "\(labels)")
            result[try #require(item["sha256"] as? String)] = labels.compactMap { $0["name"] as? String }.sorted()
        }
        return result
    }

    static func importing(
        _ zip: Data, into project: Int64, query: String = "", on server: TestServer
    ) async throws -> TestResponse {
        try await server.post(
            "/api/v1/projects/\(project)/imports\(query)", body: ByteBuffer(bytes: zip), contentType: "application/zip")
    }

    @Test(
        "an export in each of the five formats imports back to the same photos with the same labels",
        arguments: TestDatabase.enabled)
    func roundTrip(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: 12 photos, one with two labels, two with none.
            let source = try await server.createProject("Street trees")
            for seed in 0..<12 {
                let labels = seed == 0 ? ["oak", "plane"] : seed < 6 ? ["oak"] : seed < 10 ? ["plane"] : []
                let response = try await server.upload(
                    try Fixtures.jpeg(width: 64, height: 48, seed: 500 + seed), to: source, name: "tree\(seed).jpg",
                    labels: labels)
                #expect(response.status == .created)
            }
            let original = try await Self.labels(of: source, on: server)
            #expect(original.count == 12)

            for format in ImportFormat.allCases {
                // act: export, download, import into a new project with the format read from the zip.
                let job = try await server.send(
                    .post, "/api/v1/projects/\(source)/exports", json: ["format": format.rawValue])
                #expect(job.status == .accepted, "\(format): \(job.text)")
                try await server.settle()
                let zip = try await server.get(try #require(job.headers[.location])).data
                let copy = try await server.createProject("Copy \(format.rawValue)")
                let imported = try await Self.importing(zip, into: copy, on: server)

                // check: the folder layouts leave the unlabelled photos out; the rest hold them all.
                #expect(imported.status == .created, "\(format): \(imported.text)")
                let report = try imported.json()
                #expect(report["format"] as? String == format.rawValue, "\(format): \(report)")
                #expect(report["skipped"] as? [Any] != nil && (report["skipped"] as? [Any])?.isEmpty == true)
                let expected =
                    [.imagefolder, .yolo].contains(format) ? original.filter { !$0.value.isEmpty } : original
                #expect(try await Self.labels(of: copy, on: server) == expected, "\(format)")

                // The same zip with its format named, as a form field: every photo is already there.
                var form = MultipartForm()
                form.addFile("file", fileName: "export.zip", data: zip)
                form.addField("format", format.rawValue)
                let again = try await server.post(
                    "/api/v1/projects/\(copy)/imports", body: form.body, contentType: form.contentType)
                #expect(again.status == .ok, "\(format): \(again.text)")
                #expect(try again.json()["imported"] as? Int == 0)
                #expect(try await Self.labels(of: copy, on: server) == expected, "\(format) named")
            }
        }
    }

    @Test(
        "labels outside the label set: a 400 listing them and nothing stored, or added with create_labels",
        arguments: TestDatabase.enabled)
    func labelSet(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: a label set that spells one label with a capital; a COCO zip with two labels it lacks.
            let project = try await server.createProject("Park", labelSet: ["Oak", "plane"])
            let coco: [String: Any] = [
                "images": [
                    ["id": 1, "file_name": "a.jpg"], ["id": 2, "file_name": "b.jpg"], ["id": 3, "file_name": "c.jpg"],
                ],
                "categories": [
                    ["id": 1, "name": "oak"], ["id": 2, "name": "plane"], ["id": 3, "name": "birch"],
                    ["id": 4, "name": "ash"],
                ],
                "annotations": [
                    ["id": 1, "image_id": 1, "category_id": 1], ["id": 2, "image_id": 2, "category_id": 3],
                    ["id": 3, "image_id": 3, "category_id": 4], ["id": 4, "image_id": 3, "category_id": 2],
                ],
            ]
            let zip = try Fixtures.zip([
                ("images/a.jpg", try Fixtures.jpeg(width: 64, height: 48, seed: 1)),
                ("images/b.jpg", try Fixtures.jpeg(width: 64, height: 48, seed: 2)),
                ("images/c.jpg", try Fixtures.jpeg(width: 64, height: 48, seed: 3)),
                ("annotations.json", try JSONSerialization.data(withJSONObject: coco)),
            ])

            // act, check: refused, naming the two labels (not oak, which is Oak), and nothing stored.
            let refused = try await Self.importing(zip, into: project, on: server)
            #expect(refused.status == .badRequest, "\(refused.text)")
            let problem = try refused.json()
            let detail = try #require(problem["detail"] as? String)
            #expect(problem["field"] as? String == "label")
            #expect(detail.contains("\"birch\", \"ash\"") && !detail.contains("oak"), "\(detail)")
            #expect(detail.contains("create_labels"))
            #expect(try await server.rowCount("images") == 0)
            #expect(try await server.rowCount("labels") == 0)
            #expect(server.blobFiles().isEmpty)

            // act, check: with create_labels the two join the label set, and oak is the set's Oak.
            let created = try await Self.importing(zip, into: project, query: "?create_labels=true", on: server)
            #expect(created.status == .created, "\(created.text)")
            #expect(try created.json()["created_labels"] as? [String] == ["birch", "ash"])
            let after = try await server.get("/api/v1/projects/\(project)").json()
            #expect(after["label_set"] as? [String] == ["Oak", "plane", "birch", "ash"])
            let labels = try await Self.labels(of: project, on: server)
            #expect(
                labels.values.sorted { $0.description < $1.description } == [["Oak"], ["ash", "plane"], ["birch"]])
        }
    }

    @Test(
        "datasets other tools made: COCO beside train2017/, Label Studio upload URLs, a CSV without a header",
        arguments: TestDatabase.enabled)
    func otherTools(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let photos = try (0..<3).map { try Fixtures.jpeg(width: 64, height: 48, seed: 40 + $0) }
            // COCO as its tools lay it out: file names alone, the images in a folder of their own.
            let coco: [String: Any] = [
                "info": ["year": 2017], "licenses": [],
                "images": [
                    ["id": 7, "file_name": "000007.jpg", "width": 64, "height": 48],
                    ["id": 9, "file_name": "000009.jpg", "width": 64, "height": 48],
                ],
                "categories": [["id": 18, "name": "dog", "supercategory": "animal"]],
                "annotations": [["id": 1, "image_id": 9, "category_id": 18, "bbox": [1, 2, 3, 4], "area": 12]],
            ]
            // Label Studio's JSON export: upload URLs, a cancelled annotation, a prediction (not a label).
            let tasks: [[String: Any]] = [
                [
                    "id": 1, "data": ["image": "/data/upload/3/1a2b3c4d-cat.jpg"],
                    "annotations": [
                        ["result": [["type": "choices", "value": ["choices": ["Cat"]]]]],
                        ["was_cancelled": true, "result": [["type": "choices", "value": ["choices": ["Dog"]]]]],
                    ],
                    "predictions": [["result": [["type": "choices", "value": ["choices": ["Fox"]]]]]],
                ]
            ]
            let cases: [(String, [(String, Data)], [[String]])] = [
                (
                    "coco",
                    [
                        ("annotations/instances_train2017.json", try JSONSerialization.data(withJSONObject: coco)),
                        ("train2017/000007.jpg", photos[0]), ("train2017/000009.jpg", photos[1]),
                    ], [[], ["dog"]]
                ),
                (
                    "labelstudio",
                    [
                        ("export/project-3.json", try JSONSerialization.data(withJSONObject: tasks)),
                        ("export/media/1a2b3c4d-cat.jpg", photos[0]),
                    ], [["Cat"]]
                ),
                (
                    "csv",
                    [
                        ("list.csv", Data("a.jpg,cat,\"tabby, striped\"\r\nsub/b.jpg,dog\r\n\r\nc.jpg\r\n".utf8)),
                        ("a.jpg", photos[0]), ("sub/b.jpg", photos[1]), ("c.jpg", photos[2]),
                    ], [[], ["cat", "tabby, striped"], ["dog"]]
                ),
            ]
            for (format, entries, expected) in cases {
                // act
                let project = try await server.createProject("From \(format)")
                let response = try await Self.importing(try Fixtures.zip(entries), into: project, on: server)

                // check
                #expect(response.status == .created, "\(format): \(response.text)")
                #expect(try response.json()["format"] as? String == format)
                let labels = try await Self.labels(of: project, on: server)
                let order = { (a: [String], b: [String]) in a.description < b.description }
                #expect(labels.values.sorted(by: order) == expected.sorted(by: order), "\(format): \(labels)")
            }
        }
    }
}

/// Manifests that are wrong in each way a user can make them: refused with a 400 naming the
/// file and the place in it (a JSON path, a CSV line), and nothing stored, not even the honest
/// images the zip holds.
extension BadInputTests {
    @Test("a bad manifest is a 400 naming the file and line; nothing is stored", arguments: TestDatabase.enabled)
    func badManifests(database: TestDatabase) async throws {
        let photos: [(String, Data)] = [
            ("images/a.jpg", try Fixtures.jpeg(width: 64, height: 48, seed: 1)),
            ("images/b.jpg", try Fixtures.jpeg(width: 64, height: 48, seed: 2)),
        ]
        func coco(_ images: String, annotations: String = "[]") -> (String, Data) {
            (
                "annotations.json",
                Data(
                    #"{"images": \#(images), "categories": [{"id": 1, "name": "cat"}], "annotations": \#(annotations)}"#
                        .utf8)
            )
        }
        let cases: [(name: String, manifest: (String, Data), query: String, field: String, phrase: String)] = [
            (
                "malformed JSON", ("annotations.json", Data("{\"images\": [\n  {\"id\": 1, \"file_name\": }\n]".utf8)),
                "", "file", "annotations.json is not valid JSON"
            ),
            (
                "a file the zip lacks",
                coco(#"[{"id": 1, "file_name": "images/a.jpg"}, {"id": 2, "file_name": "images/gone.jpg"}]"#), "",
                "file", "annotations.json: images[1].file_name: \"images/gone.jpg\" is not in the zip"
            ),
            (
                "a COCO path escaping the archive", coco(#"[{"id": 1, "file_name": "../../etc/passwd"}]"#), "", "file",
                "images[0].file_name: \"../../etc/passwd\" points outside the archive"
            ),
            (
                "a required field missing", coco(#"[{"id": 1}]"#), "", "file",
                "annotations.json: images[0].file_name is required"
            ),
            (
                "an unknown category",
                coco(
                    #"[{"id": 1, "file_name": "images/a.jpg"}]"#,
                    annotations: #"[{"id": 1, "image_id": 1, "category_id": 9}]"#), "", "file",
                "annotations[0] names category_id 9"
            ),
            (
                "a CSV path escaping the archive",
                ("labels.csv", Data("path,labels\nimages/a.jpg,cat\n/etc/passwd,cat\n".utf8)), "", "file",
                "labels.csv line 3: \"/etc/passwd\" points outside the archive"
            ),
            (
                "a CSV row with no path", ("labels.csv", Data("images/a.jpg,cat\n,dog\n".utf8)), "", "file",
                "labels.csv line 2: the path is empty"
            ),
            (
                "a CSV quote never closed",
                ("labels.csv", Data("images/a.jpg,cat\nimages/b.jpg,\"dog\nimages/a.jpg,x\n".utf8)), "", "file",
                "labels.csv line 2: a quoted cell is never closed"
            ),
            (
                "a Label Studio task without an image",
                ("tasks.json", Data(#"[{"data": {"image": "images/a.jpg"}}, {"data": {"n": 1, "m": 2}}]"#.utf8)), "",
                "file", "tasks.json: task 1"
            ),
            ("an unknown format", ("labels.csv", Data("images/a.jpg,cat\n".utf8)), "?format=tar", "format", "tar"),
            (
                "a format the zip does not hold", ("labels.csv", Data("images/a.jpg,cat\n".utf8)), "?format=coco",
                "file", "no COCO annotations file"
            ),
            (
                "create_labels not a boolean", ("labels.csv", Data("images/a.jpg,cat\n".utf8)), "?create_labels=yes",
                "create_labels", "true or false"
            ),
        ]
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            for item in cases {
                // act
                let response = try await server.post(
                    "/api/v1/projects/\(project)/imports\(item.query)",
                    body: ByteBuffer(bytes: try Fixtures.zip(photos + [item.manifest])), contentType: "application/zip")

                // check
                #expect(response.status == .badRequest, "\(item.name): \(response.text)")
                try await expectRefused(
                    response, status: .badRequest, field: item.field, mentioning: item.phrase, on: server)
            }
        }
    }
}
