import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisServices
import IrisStore
import IrisTesting
import NIOCore
import Testing

/// Iris as a Label Studio ML backend: the config and task URLs it reads, predictions from the
/// learner, annotations becoming human labels, and who may do what (Basic or Bearer).
@Suite("Label Studio backend")
struct LabelStudioTests {
    static let config = """
        <View>
          <!-- a comment with <Choices name="fake" toName="image"> in it -->
          <Image name="image" value="$image"/>
          <Choices name="kind" toName="image" choice="single">
            <Choice value="Robin"/>
            <Choice value="Sparrow &amp; co"/>
            <Choice value='wren'/>
          </Choices>
        </View>
        """

    @Test("a labelling config's Choices over an Image is read; anything else is refused by name")
    func configs() throws {
        let parsed = try LabelStudioConfig.parse(Self.config)
        #expect(
            parsed
                == LabelStudioConfig(
                    fromName: "kind", toName: "image", dataKey: "image", choices: ["Robin", "Sparrow & co", "wren"]))
        #expect(
            parsed.choice(for: "robin") == "Robin" && parsed.choice(for: "wren") == "wren"
                && parsed.choice(for: "owl") == nil)
        // Several objects named in toName: the image among them.
        let two = try LabelStudioConfig.parse(
            #"<View><Text name="t" value="$text"/><Image name="photo" value="$url"/><Choices name="c" toName="t,photo"><Choice value="a"/></Choices></View>"#
        )
        #expect(two.toName == "photo" && two.dataKey == "url" && two.choices == ["a"])
        // Text classification, a bare image, and text that is not XML at all: refused, naming the field.
        for text in [
            #"<View><Text name="t" value="$text"/><Choices name="c" toName="t"><Choice value="a"/></Choices></View>"#,
            #"<View><Image name="i" value="$image"/></View>"#, "not a config <<<", "",
        ] {
            #expect {
                try LabelStudioConfig.parse(text)
            } throws: { error in
                (error as? Refusal)?.field == "label_config" && "\(error)".contains("image classification")
            }
        }
    }

    @Test(
        "task URLs: Iris's own photos by path (relative or on Iris's host), other http(s) URLs remote, the rest nothing"
    )
    func taskURLs() {
        let sha = String(repeating: "ab", count: 32)
        #expect(LabelStudioTask.image("/api/v1/images/\(sha)/original", irisHost: nil) == .iris(sha256: sha))
        #expect(
            LabelStudioTask.image("http://iris.lan:8080/api/v1/images/\(sha)", irisHost: "iris.lan:8080")
                == .iris(sha256: sha))
        #expect(
            LabelStudioTask.image(
                "http://IRIS.lan:8080/api/v1/projects/3/images/\(sha)/thumbnail", irisHost: "iris.lan:8080")
                == .iris(sha256: sha))
        // The same path on another host is that host's, fetched only if allowed.
        let elsewhere = "http://other.lan/api/v1/images/\(sha)/original"
        #expect(LabelStudioTask.image(elsewhere, irisHost: "iris.lan:8080") == .remote(URL(string: elsewhere)!))
        #expect(LabelStudioTask.image("/api/v1/images/\(sha.uppercased())/original", irisHost: nil) == nil)
        #expect(LabelStudioTask.image("/data/upload/1/cat.jpg", irisHost: nil) == nil)
        #expect(LabelStudioTask.image("file:///etc/passwd", irisHost: nil) == nil)
        #expect(LabelStudioTask.image("http://user:secret@host/x.jpg", irisHost: nil) == nil)
    }

    @Test("labelstudio.fetch_origins takes origins, normalised; anything else stops the server naming the setting")
    func fetchOrigins() throws {
        let settings = try IrisSettings(
            ConfigurationReader(environment: [
                "IRIS_LABELSTUDIO_FETCH_ORIGINS": "http://LS.lan:8080, https://files.example"
            ]))
        #expect(settings.labelStudioFetchOrigins == ["http://ls.lan:8080", "https://files.example:443"])
        for bad in ["ls.lan:8080", "http://ls.lan/data", "ftp://ls.lan"] {
            #expect {
                try IrisSettings(ConfigurationReader(environment: ["IRIS_LABELSTUDIO_FETCH_ORIGINS": bad]))
            } throws: { error in
                (error as? ConfigurationError)?.setting == "labelstudio.fetch_origins"
            }
        }
    }

    /// A project whose learner knows robins and sparrows from stored embeddings, a viewer and
    /// an editor with tokens, and one more photo (a robin by its embedding) without a label.
    struct Fixture {
        var project: Int64
        var robin: String
        var unlabelled: String
        var viewer: String
        var editor: String
    }

    static func fixture(_ server: TestServer) async throws -> Fixture {
        let project = try await server.createProject("ls birds", labelSet: ["robin", "sparrow"])
        let model = "label-studio-test-embedder"
        let vectors: [[Float]] = [
            [1, 0.1, 0, 0], [0.9, 0.2, 0, 0], [0, 1, 0.1, 0], [0.1, 0.9, 0, 0], [0.95, 0.15, 0, 0],
        ]
        var photos: [(sha256: String, label: String, vector: [Float])] = []
        var unlabelled = ""
        for (index, vector) in vectors.enumerated() {
            let label = index < 2 ? "robin" : "sparrow"
            let upload = try await server.upload(
                try Fixtures.jpeg(width: 40, height: 30, seed: 700 + index), to: project,
                labels: index < 4 ? [label] : [])
            let sha256 = try #require(try upload.json()["sha256"] as? String)
            _ = try await server.store.analyses.save(
                Analysis(sha256: sha256, model: model, result: "{}", createdAt: Date()), labels: [], embedding: vector,
                moderation: nil)
            if index < 4 { photos.append((sha256, label, vector)) } else { unlabelled = sha256 }
        }
        try await LabelEditTests.teach(server, project: project, model: model, photos)
        let accounts = Accounts(store: server.store, bcryptCost: 10)
        var tokens: [String] = []
        for role in [Role.viewer, .editor] {
            let user = try await accounts.create(
                username: "ls-\(role.rawValue)", password: "password-\(role)", isAdmin: false)
            try await server.store.accounts.setRole(projectID: project, userID: user.id, role)
            tokens.append(try await TestAccounts.token(for: user, scopes: [.read, .write], in: server.store))
        }
        return Fixture(
            project: project, robin: photos[0].sha256, unlabelled: unlabelled, viewer: tokens[0], editor: tokens[1])
    }

    static func basic(_ token: String, user: String = "label-studio") -> HTTPFields {
        [
            .authorization: "Basic " + Data("\(user):\(token)".utf8).base64EncodedString(),
            .contentType: "application/json",
        ]
    }

    static func post(_ server: TestServer, _ path: String, _ json: [String: Any], as headers: HTTPFields) async throws
        -> TestResponse
    {
        var all = headers
        all[.contentType] = "application/json"
        return try await server.request(
            .post, path, headers: all, body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
    }

    @Test(
        "a viewer connects with Basic auth and gets choices for the project's photos, nothing for others",
        arguments: TestDatabase.enabled)
    func predict(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup
            let fixture = try await Self.fixture(server)
            let base = "/api/v1/projects/\(fixture.project)/label-studio"
            let viewer = Self.basic(fixture.viewer)
            let health = try await server.get("\(base)/health", headers: viewer)
            #expect(try health.status == .ok && health.json()["status"] as? String == "UP", "\(health.text)")
            let setup = try await Self.post(
                server, "\(base)/setup", ["project": "1.1", "schema": Self.config], as: viewer)
            #expect(setup.status == .ok, "\(setup.text)")
            let version = try #require(try setup.json()["model_version"] as? String)

            // act: four tasks — the unlabelled robin, a labelled one, a photo of no project, a foreign host
            let stranger = String(repeating: "0", count: 64)
            let tasks: [[String: Any]] = [
                ["id": 1, "data": ["image": "/api/v1/images/\(fixture.unlabelled)/original"]],
                ["id": 2, "data": ["image": "/api/v1/images/\(fixture.robin)/original", "other": 3]],
                ["id": 3, "data": ["image": "/api/v1/images/\(stranger)/original"]],
                ["id": 4, "data": ["image": "http://203.0.113.9/cat.jpg"]],
            ]
            let response = try await Self.post(
                server, "\(base)/predict", ["tasks": tasks, "label_config": Self.config, "project": "1.1"], as: viewer)

            // check: one list per task, in order; choices spelled as the config spells them
            #expect(response.status == .ok, "\(response.text)")
            let results = try #require(try response.json()["results"] as? [[[String: Any]]])
            #expect(results.count == 4)
            for answered in results[0...1] {
                let prediction = try #require(answered.first)
                #expect(prediction["model_version"] as? String == version)
                #expect(((prediction["score"] as? Double) ?? 0) > 0.5, "\(prediction)")
                let region = try #require((prediction["result"] as? [[String: Any]])?.first)
                #expect(region["from_name"] as? String == "kind" && region["to_name"] as? String == "image")
                #expect(region["type"] as? String == "choices")
                #expect((region["value"] as? [String: Any])?["choices"] as? [String] == ["Robin"])
            }
            #expect(results[2].isEmpty && results[3].isEmpty)
        }
    }

    @Test(
        "a project with an active trained head predicts with it, not with the learner", arguments: TestDatabase.enabled)
    func head(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: a head over the learner's embeddings that calls everything a sparrow (its
            // weights are zero and its bias favours sparrow: p = e² / (e² + 1)), made active
            let fixture = try await Self.fixture(server)
            let parameters: [String: Any] = [
                "classes": ["sparrow", "robin"], "dimension": 4, "mean": [0, 0, 0, 0],
                "weights": [Float](repeating: 0, count: 8),
                "bias": [2, 0],
            ]
            let record = try await server.store.learning.addClassifier(
                ClassifierRecord(
                    projectID: fixture.project, model: "label-studio-test-embedder", classes: ["sparrow", "robin"],
                    parameters: String(decoding: try JSONSerialization.data(withJSONObject: parameters), as: UTF8.self),
                    report: "{}", jobID: nil, createdAt: Date()))
            #expect(try await server.store.learning.activate(projectID: fixture.project, version: record.version))
            let config =
                #"<View><Image name="photo" value="$url"/><Choices name="bird" toName="photo"><Choice value="Robin"/><Choice value="Sparrow"/></Choices></View>"#

            // act: the robin-like photo, which the learner calls a robin
            let response = try await Self.post(
                server, "/api/v1/projects/\(fixture.project)/label-studio/predict",
                [
                    "tasks": [["id": 1, "data": ["url": "/api/v1/images/\(fixture.robin)/original"]]],
                    "label_config": config,
                ],
                as: Self.basic(fixture.viewer))

            // check: the head's answer, its version and its probability
            #expect(response.status == .ok, "\(response.text)")
            let prediction = try #require((try response.json()["results"] as? [[[String: Any]]])?.first?.first)
            #expect(prediction["model_version"] as? String == "iris-head-v\(record.version)")
            #expect(abs((prediction["score"] as? Double ?? 0) - exp(2) / (exp(2) + 1)) < 1e-4, "\(prediction)")
            let region = try #require((prediction["result"] as? [[String: Any]])?.first)
            #expect(region["from_name"] as? String == "bird" && region["to_name"] as? String == "photo")
            #expect((region["value"] as? [String: Any])?["choices"] as? [String] == ["Sparrow"])
        }
    }

    @Test(
        "an editor's annotation becomes the photo's label (undoable, the learner follows); viewers and bad input change nothing",
        arguments: TestDatabase.enabled)
    func webhook(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup
            let fixture = try await Self.fixture(server)
            let path = "/api/v1/projects/\(fixture.project)/label-studio/webhook"
            func event(_ action: String, choices: [String], image: String? = nil) -> [String: Any] {
                [
                    "action": action,
                    "annotation": [
                        "id": 7, "task": 5, "was_cancelled": false,
                        "result": [
                            ["from_name": "kind", "to_name": "image", "type": "choices", "value": ["choices": choices]]
                        ],
                    ],
                    "task": ["id": 5, "data": ["image": image ?? "/api/v1/images/\(fixture.unlabelled)/original"]],
                    "project": ["id": 1, "label_config": Self.config],
                ]
            }
            let before = try await LabelEditTests.labelRows(server, fixture.project)

            // Refusals: a viewer, a choice outside the label set, a photo not in Iris, no task.
            let byViewer = try await Self.post(
                server, path, event("ANNOTATION_CREATED", choices: ["Sparrow"]), as: Self.basic(fixture.viewer))
            #expect(byViewer.status == .forbidden, "\(byViewer.text)")
            let editor = TestServer.bearer(fixture.editor)
            let unknown = try await Self.post(server, path, event("ANNOTATION_CREATED", choices: ["Owl"]), as: editor)
            #expect(
                unknown.status == .unprocessableContent && unknown.text.contains("\\\"Owl\\\" is not in project"),
                "\(unknown.text)")
            let foreign = try await Self.post(
                server, path, event("ANNOTATION_CREATED", choices: ["Sparrow"], image: "http://203.0.113.9/a.jpg"),
                as: editor)
            #expect(
                foreign.status == .unprocessableContent && foreign.text.contains("not an Iris image URL"),
                "\(foreign.text)")
            let bare = try await Self.post(server, path, ["action": "ANNOTATION_CREATED"], as: editor)
            #expect(bare.status == .badRequest, "\(bare.text)")
            #expect(try await LabelEditTests.labelRows(server, fixture.project) == before)
            let ignored = try await Self.post(
                server, path, ["action": "PROJECT_UPDATED", "project": ["id": 1]], as: editor)
            #expect(try ignored.status == .ok && ignored.json()["status"] as? String == "ignored")

            // act: the editor labels the unlabelled photo Sparrow (another case than Iris's), then changes it to Robin
            let created = try await Self.post(
                server, path, event("ANNOTATION_CREATED", choices: ["SPARROW"]), as: editor)
            #expect(created.status == .ok, "\(created.text)")
            let labels = "/api/v1/projects/\(fixture.project)/images/\(fixture.unlabelled)/labels"
            #expect(
                try await server.get(labels).json()["labels"].flatMap {
                    ($0 as? [[String: Any]])?.compactMap { $0["name"] as? String }
                } == ["sparrow"])
            var members = try await server.store.learning.members(projectID: fixture.project)
            #expect(members.contains { $0.name == "sparrow" && $0.sha256 == fixture.unlabelled })

            let updated = try await Self.post(server, path, event("ANNOTATION_UPDATED", choices: ["Robin"]), as: editor)
            #expect(updated.status == .ok, "\(updated.text)")
            let operation = try #require(
                (try updated.json()["labelled"] as? [[String: Any]])?.first?["operation"] as? Int)
            members = try await server.store.learning.members(projectID: fixture.project)
            #expect(members.contains { $0.name == "robin" && $0.sha256 == fixture.unlabelled })
            #expect(!members.contains { $0.name == "sparrow" && $0.sha256 == fixture.unlabelled })
            let events = try await LabelEditTests.labelEvents(server, fixture.project)
            #expect(events.filter { $0.subject == fixture.unlabelled }.count == 2)

            // check: the change is Iris's like any other: undo puts back the Sparrow label
            let undone = try await server.send(
                .post, "/api/v1/projects/\(fixture.project)/labels/undo", json: ["operation": operation])
            #expect(undone.status == .ok, "\(undone.text)")
            #expect(
                try await server.get(labels).json()["labels"].flatMap {
                    ($0 as? [[String: Any]])?.compactMap { $0["name"] as? String }
                } == ["sparrow"])
        }
    }

    @Test(
        "without a learner class setup says so (409); Basic with a bad token or elsewhere than these routes is a 401",
        arguments: TestDatabase.enabled)
    func refusals(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("empty")
            let base = "/api/v1/projects/\(project)/label-studio"
            let setup = try await Self.post(server, "\(base)/setup", ["schema": Self.config], as: [:])
            #expect(setup.status == .conflict && setup.text.contains("no classes yet"), "\(setup.text)")
            let notImage = try await Self.post(
                server, "\(base)/predict",
                [
                    "tasks": [["data": ["text": "hi"]]],
                    "label_config": "<View><Text name=\"t\" value=\"$text\"/></View>",
                ],
                as: [:])
            #expect(
                notImage.status == .badRequest && notImage.text.contains("image classification"), "\(notImage.text)")
            let badToken = try await server.get("\(base)/health", headers: Self.basic("iris_not-a-real-token"))
            #expect(badToken.status == .unauthorized)
            let garbled = try await server.get("\(base)/health", headers: [.authorization: "Basic %%%"])
            #expect(garbled.status == .unauthorized && garbled.text.contains("Basic credentials"), "\(garbled.text)")
            let elsewhere = try await server.get("/api/v1/projects/\(project)", headers: Self.basic(server.adminToken))
            #expect(elsewhere.status == .unauthorized)
        }
    }
}
