import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisServer
import IrisServices
import IrisStore
import IrisTesting
import NIOCore
import Testing

/// Iris as an Open Inference Protocol v2 server (`/v2`): a trained head answering as the labels it
/// gave the project's photos, who may reach a project's models, the model's own tensor checked
/// against its metadata, and every refusal in the protocol's `{"error": ...}` shape.
/// Serialized: the head test embeds two dozen photos.
@Suite(.serialized) struct InferenceServerTests {
    static func infer(_ server: TestServer, _ model: String, _ body: [String: Any]) async throws -> TestResponse {
        try await server.send(.post, "/v2/models/\(model)/infer", json: body)
    }

    static func photos(_ images: [Data]) -> [String: Any] {
        [
            "inputs": [
                [
                    "name": "encoded_image", "datatype": "BYTES", "shape": [images.count],
                    "data": images.map { $0.base64EncodedString() },
                ]
            ]
        ]
    }

    static func output(_ response: TestResponse, _ name: String) throws -> [String: Any] {
        let outputs = try #require(try response.json()["outputs"] as? [[String: Any]])
        return try #require(outputs.first { $0["name"] as? String == name }, "no output \(name) in \(response.text)")
    }

    /// The protocol's error: JSON with `error` alone, never problem+json.
    static func error(_ response: TestResponse) throws -> String {
        #expect(response.headers[.contentType] == "application/json", "\(response.text)")
        let json = try response.json()
        #expect(Array(json.keys) == ["error"], "\(response.text)")
        return try #require(json["error"] as? String)
    }

    @Test(
        "a trained head answers over OIP as it labelled the project's photos; only members reach it",
        arguments: TestDatabase.enabled)
    func head(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: three classes, a head trained and made active
            let project = try await server.createProject("scenes")
            for name in ["brick", "grass", "coffee"] {
                let added = try await LearningAPITests.addClass(
                    server, project: project, name: name, zip: try LearningAPITests.zip(name, 0..<8))
                #expect(added.status == .created, "\(added.text)")
            }
            let head = "project-\(project)-head"
            let before = try await server.get("/v2/models/\(head)/ready")
            #expect(try before.status == .notFound && (Self.error(before)).contains("no active trained head"))
            let train = try await server.send(
                .post, "/api/v1/projects/\(project)/classifiers", json: ["activate": true])
            let trained = try await server.waitForJob(
                Int64(try #require(try train.json()["id"] as? Int)), in: [.succeeded, .failed, .dead], timeout: 120)
            #expect(trained.state == .succeeded, "\(trained.error ?? "")")

            // act: a photo of each class the head was trained on
            let photos = try ["brick", "grass", "coffee"].map { try TestModels.evalPhoto($0, 2) }
            var body = Self.photos(photos)
            body["outputs"] = [["name": "labels"], ["name": "probabilities", "parameters": ["classification": 1]]]
            let answer = try await Self.infer(server, head, body)

            // check: the head's top label for each is the one it stored on that photo when it was activated
            #expect(answer.status == .ok, "\(answer.text)")
            let labels = try #require(try Self.output(answer, "labels")["data"] as? [String])
            #expect(try Self.output(answer, "labels")["shape"] as? [Int] == [3, 3])
            for (index, photo) in photos.enumerated() {
                let sha256 = SHA256.hash(data: photo).map { String(format: "%02x", $0) }.joined()
                let stored = try await server.get("/api/v1/analyses/\(sha256)").json()
                let models = try #require(stored["models"] as? [String: [String: Any]])
                let result = try #require(models["project-\(project)-classifier"]?["result"] as? [String: Any])
                let best = try #require((result["labels"] as? [[String: Any]])?.first)
                #expect(labels[index * 3] == best["label"] as? String)
                let classified = try #require(try Self.output(answer, "probabilities")["data"] as? [String])
                let parts = classified[index].split(separator: ":", maxSplits: 2).map(String.init)
                #expect(parts.count == 3 && parts[2] == best["label"] as? String)
                #expect(abs((Double(parts[0]) ?? 0) - (best["score"] as? Double ?? -1)) < 1e-4)
            }
            #expect(labels.enumerated().filter { $0.offset % 3 == 0 }.map(\.element) == ["brick", "grass", "coffee"])

            // check: a viewer reaches it; an outsider and a token of another project meet a model that does not exist
            let accounts = Accounts(store: server.store, bcryptCost: 10)
            let viewer = try await accounts.create(username: "viewer", password: "password-viewer", isAdmin: false)
            try await server.store.accounts.setRole(projectID: project, userID: viewer.id, .viewer)
            let outsider = try await accounts.create(username: "outsider", password: "password-out", isAdmin: false)
            let viewerToken = try await TestAccounts.token(for: viewer, scopes: [.read, .write], in: server.store)
            let readOnly = try await TestAccounts.token(for: viewer, scopes: [.read], in: server.store)
            let other = try await server.createProject("elsewhere")
            let strangers = [
                try await TestAccounts.token(for: outsider, scopes: [.read, .write], in: server.store),
                try await TestAccounts.token(
                    for: try #require(try await server.store.accounts.credentials(username: "admin")).0,
                    scopes: [.read, .write, .admin], projectID: other, in: server.store),
            ]
            let single = Self.photos([photos[0]])
            let asViewer = server.acting(as: TestServer.bearer(viewerToken))
            #expect(try await Self.infer(asViewer, head, single).status == .ok)
            #expect(try await asViewer.get("/v2/models/\(head)").status == .ok)
            let reading = try await Self.infer(server.acting(as: TestServer.bearer(readOnly)), head, single)
            #expect(try reading.status == .forbidden && (Self.error(reading)).contains("scope read"))
            for token in strangers {
                let stranger = server.acting(as: TestServer.bearer(token))
                for response in [
                    try await Self.infer(stranger, head, single), try await stranger.get("/v2/models/\(head)"),
                    try await Self.infer(stranger, "project-\(project)-learner", single),
                ] {
                    #expect(response.status == .notFound)
                    #expect(try Self.error(response).hasPrefix("no model is named project-\(project)-"))
                }
            }
        }
    }

    @Test("the model's own tensor is checked against its metadata; refusals are the protocol's errors")
    func tensors() async throws {
        try await TestServer.with(.sqlite, limits: IngestLimits(maxUploadBytes: 4 << 20)) { server in
            // setup: the metadata says what the model takes
            let metadata = try await server.get("/v2/models/mobilenet-v2").json()
            let inputs = try #require(metadata["inputs"] as? [[String: Any]])
            #expect(inputs.first?["shape"] as? [Int] == [-1, 3, 224, 224])
            #expect((metadata["parameters"] as? [String: Any])?["max_batch"] as? Int == 8)
            func tensor(_ shape: [Int], datatype: String = "FP32", count: Int? = nil) -> [String: Any] {
                [
                    "inputs": [
                        [
                            "name": "image", "datatype": datatype, "shape": shape,
                            "data": [Float](repeating: 0.25, count: count ?? shape.reduce(1, *)),
                        ]
                    ],
                    "outputs": [["name": "logits"], ["name": "labels"]],
                ]
            }

            // act + check: a right tensor answers the graph's logits and the labels
            let right = try await Self.infer(server, "mobilenet-v2", tensor([2, 3, 224, 224]))
            #expect(right.status == .ok, "\(right.text)")
            #expect(try Self.output(right, "logits")["shape"] as? [Int] == [2, 1000])
            #expect(try Self.output(right, "labels")["shape"] as? [Int] == [2, 5])

            // act + check: each wrong request is a 4xx naming what is wrong
            let cases: [([String: Any], HTTPResponse.Status, String)] = [
                (tensor([1, 3, 224, 225]), .badRequest, "shape [1, 3, 224, 225]"),
                (tensor([1, 3, 224, 224], datatype: "INT64"), .badRequest, "INT64"),
                (tensor([9, 3, 8, 8]), .badRequest, "shape [9, 3, 8, 8]"),
                (tensor([1, 3, 224, 224], count: 7), .badRequest, "150528 elements but 7"),
                (
                    ["inputs": [["name": "pixels", "datatype": "FP32", "shape": [1], "data": [1]]]], .badRequest,
                    "unknown input pixels"
                ),
                (Self.photos(Array(repeating: Data([0xFF, 0xD8]), count: 9)), .badRequest, "at most 8"),
                (Self.photos([Data("not a picture".utf8)]), .unsupportedMediaType, "element 0"),
                (
                    ["inputs": tensor([1, 3, 224, 224])["inputs"]!, "outputs": [["name": "colour"]]], .badRequest,
                    "unknown output colour"
                ),
                (
                    [
                        "inputs": tensor([1, 3, 224, 224])["inputs"]!,
                        "outputs": [["name": "embedding", "parameters": ["classification": 2]]],
                    ], .badRequest, "not over the model's classes"
                ),
            ]
            for (body, status, words) in cases {
                let refused = try await Self.infer(server, "mobilenet-v2", body)
                #expect(refused.status == status, "\(words): \(refused.status) \(refused.text)")
                #expect(try Self.error(refused).contains(words), "\(refused.text) is not about \(words)")
            }
            // In a batch, the element that is no photo is named.
            let broken = try await Self.infer(
                server, "mobilenet-v2", Self.photos([try Fixtures.jpeg(), Data("GIF89a, or not".utf8)]))
            #expect(broken.status.code >= 400 && broken.status.code < 500, "\(broken.text)")
            #expect(try Self.error(broken).contains("element 1"))
            // A body over the upload limit, unknown models and routes, and no credentials.
            let huge = try await server.post(
                "/v2/models/mobilenet-v2/infer", body: ByteBuffer(repeating: 0x20, count: 5 << 20),
                contentType: "application/json")
            #expect(try huge.status == .contentTooLarge && !(Self.error(huge)).isEmpty)
            let unknown = try await server.get("/v2/models/project-0-learner")
            #expect(try unknown.status == .notFound && (Self.error(unknown)).contains("no model is named"))
            let nowhere = try await server.get("/v2/repository/index")
            #expect(try nowhere.status == .notFound && !(Self.error(nowhere)).isEmpty)
            let anonymous = try await server.acting(as: [:]).get("/v2/models/mobilenet-v2")
            #expect(try anonymous.status == .unauthorized && !(Self.error(anonymous)).isEmpty)
            #expect(try await server.acting(as: [:]).get("/v2/health/ready").status == .ok)
            let live = try await server.acting(as: [:]).get("/v2")
            let extensions = try live.json()["extensions"] as? [String]
            #expect(live.status == .ok && extensions?.contains("classification") == true)
        }
    }
}
