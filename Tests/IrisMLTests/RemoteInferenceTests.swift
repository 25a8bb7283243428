import Foundation
import Glibc
import IrisTesting
import Testing

@testable import IrisML

/// The pieces of remote models that need no server: the allowlist, the manifest's remote
/// rules, the Open Inference Protocol JSON both ways, and the check of a server's metadata.
/// Tests/e2e/test_remote_models.py runs the whole path against MLServer.
@Suite struct RemoteInferenceTests {
    static func manifest(_ changes: (inout ModelManifest) -> Void = { _ in }) throws -> ModelManifest {
        var manifest = try JSONDecoder().decode(
            ModelManifest.self, from: Data(contentsOf: TestModels.folder.appendingPathComponent("mobilenet-v2.json")))
        manifest.file = nil
        manifest.remote = .init(url: "http://10.0.0.5:8080", model: "mobilenet")
        manifest.labels = .list((0..<1000).map { "class \($0)" })
        changes(&manifest)
        return manifest
    }

    @Test func theAllowlistComparesOriginsWithDefaultPortsAndRefusesTheRest() throws {
        let allowed = try RemoteAllowlist(["http://10.0.0.5:8080", "HTTPS://Triton.Internal"])
        #expect(allowed.origins == ["http://10.0.0.5:8080", "https://triton.internal:443"])
        let manifest = try Self.manifest()
        for url in [
            "http://10.0.0.5:8080", "http://10.0.0.5:8080/", "https://triton.internal/prefix",
            "https://TRITON.internal:443",
        ] {
            #expect(throws: Never.self) { try allowed.check(.init(url: url, model: "m"), model: manifest.name) }
        }
        for (url, words) in [
            ("http://10.0.0.5:8081", "not in models.remote_allow"),
            ("https://10.0.0.5:8080", "not in models.remote_allow"),
            ("http://user:pw@10.0.0.5:8080", "plain http(s) URL"), ("http://10.0.0.5:8080/?x=1", "plain http(s) URL"),
            ("ftp://10.0.0.5:8080", "plain http(s) URL"), ("10.0.0.5:8080", "plain http(s) URL"),
        ] {
            #expect { try allowed.check(.init(url: url, model: "m"), model: manifest.name) } throws: { error in
                "\(error)".contains(words)
            }
        }
        #expect { try RemoteAllowlist.none.check(.init(url: "http://10.0.0.5:8080", model: "m"), model: "x") } throws: {
            error in
            "\(error)".contains("it lists none")
        }
        for entry in ["10.0.0.5:8080", "http://10.0.0.5:8080/v2", "http://a@b:1"] {
            #expect(throws: RuntimeError.self) { try RemoteAllowlist([entry]) }
        }
    }

    @Test func labelsAreAFileOrAListAndRemoteManifestsHaveTheirOwnRules() throws {
        let file = try JSONDecoder().decode(ModelManifest.Labels.self, from: Data(#""imagenet-labels.txt""#.utf8))
        #expect(file == .file("imagenet-labels.txt"))
        let list = try JSONDecoder().decode(ModelManifest.Labels.self, from: Data(#"["cat","dog"]"#.utf8))
        #expect(list == .list(["cat", "dog"]))
        #expect(try JSONDecoder().decode(ModelManifest.Labels.self, from: JSONEncoder().encode(list)) == list)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(ModelManifest.Labels.self, from: Data("7".utf8))
        }

        #expect(throws: Never.self) { try Self.manifest().validate() }
        let refused: [(String, (inout ModelManifest) -> Void)] = [
            ("exactly one of file and remote", { $0.file = "x.onnx" }),
            ("remote.model must be", { $0.remote?.model = "../x" }),
            ("timeout_seconds", { $0.remote?.timeoutSeconds = 0 }),
            ("retries", { $0.remote?.retries = 9 }),
            ("labels is an empty list", { $0.labels = .list([]) }),
            (
                "cannot be remote",
                {
                    $0.tasks = [.detectText]
                    $0.outputs = ["probabilities": "p"]
                    $0.recognizer = .init(
                        file: "r", input: "i", output: "o", keys: "k", height: 48, maxWidth: 320, mean: [0, 0, 0],
                        std: [1, 1, 1])
                }
            ),
        ]
        for (words, change) in refused {
            #expect { try Self.manifest(change).validate() } throws: { error in "\(error)".contains(words) }
        }
    }

    @Test func requestsAreProtocolJSONAndAnswersAreReadFlatOrNested() throws {
        let body = OpenInferenceClient.requestBody(
            [0.5, -1.25, 3e-7, .nan], shape: [1, 4], input: "im\"age", outputs: ["logits", "embedding"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        let input = try #require((json["inputs"] as? [[String: Any]])?.first)
        #expect(input["name"] as? String == "im\"age")
        #expect(input["datatype"] as? String == "FP32")
        #expect(input["shape"] as? [Int] == [1, 4])
        #expect((input["data"] as? [Double])?.map { Float($0) } == [0.5, -1.25, 3e-7, 0])
        #expect((json["outputs"] as? [[String: String]])?.map { $0["name"] } == ["logits", "embedding"])

        let answer = Data(
            """
            {"model_name":"m","outputs":[
              {"name":"logits","shape":[1,3],"datatype":"FP32","data":[0.1,0.2,0.7]},
              {"name":"embedding","shape":[1,2,2],"datatype":"FP64","data":[[[1,2],[3,4]]]},
              {"name":"words","shape":[1],"datatype":"BYTES","data":["a"]}]}
            """.utf8)
        let read = try OpenInferenceClient.outputs(in: answer, wanted: ["logits", "embedding"], label: "t")
        #expect(read["logits"] == Tensor(shape: [1, 3], values: [0.1, 0.2, 0.7]))
        #expect(read["embedding"] == Tensor(shape: [1, 2, 2], values: [1, 2, 3, 4]))
        for (wanted, words) in [
            (["scores"], "no output scores (it has logits, embedding, words)"), (["words"], "BYTES"),
        ] {
            #expect { try OpenInferenceClient.outputs(in: answer, wanted: wanted, label: "t") } throws: { error in
                "\(error)".contains(words)
            }
        }
        let short = Data(#"{"outputs":[{"name":"logits","shape":[1,3],"datatype":"FP32","data":[0.1]}]}"#.utf8)
        #expect { try OpenInferenceClient.outputs(in: short, wanted: ["logits"], label: "t") } throws: { error in
            "\(error)".contains("but 1 values")
        }
        #expect { try OpenInferenceClient.outputs(in: Data("<html>".utf8), wanted: ["logits"], label: "t") } throws: {
            error in
            "\(error)".contains("not Open Inference Protocol v2 JSON")
        }
        #expect(OpenInferenceClient.serverMessage(Data(#"{"error":"shape mismatch"}"#.utf8)) == "shape mismatch")
        #expect(OpenInferenceClient.serverMessage(Data()) == "(empty body)")
    }

    @Test func aServersMetadataIsCheckedAsAGraphIs() throws {
        let manifest = try Self.manifest()
        func metadata(
            input: String = "image", datatype: String = "FP32", shape: [Int] = [-1, 3, 224, 224],
            outputs: [String] = ["logits", "embedding"], classes: Int = 1000
        )
            -> OpenInferenceClient.Metadata
        {
            .init(
                name: "mobilenet", inputs: [.init(name: input, datatype: datatype, shape: shape)],
                outputs: outputs.map {
                    .init(name: $0, datatype: "FP32", shape: [-1, $0 == "logits" ? classes : 1280])
                })
        }
        #expect(throws: Never.self) { try OpenInferenceClient.check(metadata(), against: manifest, labels: 1000) }
        #expect(throws: Never.self) {
            try OpenInferenceClient.check(.init(name: "m", inputs: [], outputs: nil), against: manifest, labels: 1000)
        }
        let cases: [(OpenInferenceClient.Metadata, String)] = [
            (metadata(input: "pixels"), "takes pixels, not image"),
            (metadata(datatype: "UINT8"), "is UINT8, not FP32"),
            (metadata(shape: [1, 224, 224, 3]), "does not take 3×224×224 in NCHW order"),
            (metadata(shape: [1, 3, 224]), "3 dimensions"),
            (metadata(outputs: ["logits"]), "outputs.embedding names embedding"),
            (metadata(classes: 10), "scores 10 classes"),
            (metadata(shape: [4, 3, 224, 224]), "takes batches of 4, but input.max_batch is 8"),
        ]
        for (served, words) in cases {
            #expect { try OpenInferenceClient.check(served, against: manifest, labels: 1000) } throws: { error in
                "\(error)".contains(words)
            }
        }
    }

    /// Remote batches: requests that wait while one is under way go together in the next
    /// (up to max_batch), and each caller gets its own row of the answer, or the error.
    @Test func waitingRequestsShareTheNextRemoteCallAndGetTheirOwnRows() async throws {
        // The first call is held until all ten callers have asked (and 30 ms more), so that on a
        // busy machine the others are surely waiting by the time it answers.
        let asked = Counter()
        let batcher = Batcher(maxBatch: 4) { batch in
            for _ in 0..<500 where asked.value < 10 { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(30))
            if batch.values.contains(-1) { throw RuntimeError(operation: "remote", message: "refused") }
            let rows = batch.shape[0]
            return ["out": Tensor(shape: [rows, 2], values: batch.values.flatMap { [$0 * 2, $0 + 1] })]
        }
        let answers = try await withThrowingTaskGroup(of: (Float, [Float]).self) { group in
            for value in 0..<10 {
                group.addTask {
                    asked.increment()
                    return (Float(value), try await batcher.run([Float(value)], shape: [1])["out"]!.values)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(answers.count == 10)
        for (value, row) in answers { #expect(row == [value * 2, value + 1]) }
        #expect(batcher.batchSizes.reduce(0, +) == 10)
        #expect(
            batcher.batchSizes.contains { $0 > 1 } && batcher.batchSizes.allSatisfy { $0 <= 4 }, "\(batcher.batchSizes)"
        )
        await #expect { try await batcher.run([-1], shape: [1]) } throws: { error in "\(error)".contains("refused") }
    }

    /// A server that is not there: the request is sent `retries` more times, then fails
    /// saying how often it tried, and never where the server is.
    @Test func aServerThatDoesNotAnswerIsTriedAgainThenReported() async throws {
        let closed = try Self.closedPort()
        let manifest = try Self.manifest {
            $0.remote = .init(url: "http://127.0.0.1:\(closed)", model: "m", timeoutSeconds: 2, retries: 1)
        }
        let client = OpenInferenceClient(
            base: URL(string: manifest.remote!.url)!, remote: manifest.remote!, manifest: manifest)
        let started = ContinuousClock.now
        await #expect { try await client.infer([0], shape: [1], input: "image", outputs: ["logits"]) } throws: {
            error in
            // The error reaches image viewers (job errors, events): it names the model, not the server.
            "\(error)".contains("tried 2 times") && "\(error)".contains("/v2/models/m/infer")
                && !"\(error)".contains("127.0.0.1") && !"\(error)".contains(String(closed))
        }
        #expect(ContinuousClock.now - started >= .milliseconds(250))
    }

    /// A loopback port nothing listens on (bound for a moment, then closed).
    static func closedPort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(socket, raw, length) == 0, getsockname(socket, raw, &length) == 0 else {
                    throw RuntimeError(operation: "bind", message: "\(errno)")
                }
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A count shared between tasks.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    func increment() {
        lock.lock()
        count += 1
        lock.unlock()
    }
}
