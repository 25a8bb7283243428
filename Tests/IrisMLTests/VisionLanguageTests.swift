import Foundation
import IrisML
import IrisTesting
import Logging
import Testing

/// A vision–language pair in a models folder, with the tiny CLIP-shaped pair set-up builds
/// (`scripts/models/test_clip.py`: random weights, so shapes and plumbing only): the pair is
/// ready, each kind of broken pair is reported on its image model, and the manifests' own
/// checks name what is wrong.
@Suite("Vision–language pairs")
struct VisionLanguageTests {
    static let pair = TestModels.root.appendingPathComponent(".cache/test-models/clip")
    static let prepared = FileManager.default.fileExists(
        atPath: pair.appendingPathComponent("tiny-clip-text.onnx").path)

    static func manifest(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: pair.appendingPathComponent(name + ".json")))
            as! [String: Any]
    }

    @Test(
        "a pair loads; a missing, unusable or wrong pair makes its image model unavailable, saying why",
        .enabled(if: prepared, "no tiny CLIP-shaped pair in .cache/test-models/clip: run scripts/prepare-models.sh"))
    func pairsAreCheckedAtLoad() async throws {
        // setup: the pair, and image models whose pairs are missing, not text, or broken
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("iris-clip-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["tiny-clip-image.onnx", "tiny-clip-text.onnx", "clip-merges.txt"] {
            try FileManager.default.createSymbolicLink(
                at: folder.appendingPathComponent(name), withDestinationURL: Self.pair.appendingPathComponent(name))
        }
        func write(_ object: [String: Any]) throws {
            try JSONSerialization.data(withJSONObject: object).write(
                to: folder.appendingPathComponent("\(object["name"]!).json"))
        }
        let image = try Self.manifest("tiny-clip-image")
        let text = try Self.manifest("tiny-clip-text")
        try write(image)
        try write(text)
        var lonely = image
        (lonely["name"], lonely["pair"]) = ("lonely", "no-such-text")
        try write(lonely)
        var crossed = image
        (crossed["name"], crossed["pair"]) = ("crossed", "tiny-clip-image")
        try write(crossed)
        var wrongInput = text
        wrongInput["name"] = "wrong-input"
        wrongInput["text"] = ["input": "tokens", "merges": "clip-merges.txt"]
        try write(wrongInput)
        var broken = image
        (broken["name"], broken["pair"]) = ("broken", "wrong-input")
        try write(broken)

        // act
        let registry = try ModelRegistry.load(
            folder: folder, runtimeLibrary: TestModels.runtimeLibrary, threads: .init(intraOp: 1),
            logger: Logger(label: "test"))

        // check
        let entries = Dictionary(uniqueKeysWithValues: registry.entries.map { ($0.name, $0) })
        #expect(entries["tiny-clip-image"]?.problem == nil)
        #expect(entries["tiny-clip-text"]?.problem == nil)
        #expect(
            entries["lonely"]?.problem
                == "pair names no-such-text, which is not in the models folder (add its manifest, or fix the name)")
        #expect(entries["crossed"]?.problem == "pair names tiny-clip-image, which is not an embed-text model")
        #expect(
            entries["wrong-input"]?.problem?.contains("text.input names tokens, which the graph does not have") == true)
        #expect(entries["broken"]?.problem?.hasPrefix("its pair wrong-input cannot be used: ") == true)
        #expect(
            registry.visionLanguagePairs.map { "\($0.image.name)+\($0.text.name)" } == [
                "tiny-clip-image+tiny-clip-text"
            ])
        let textModel = try #require(registry.model("tiny-clip-text"))
        #expect(!textModel.analyses)

        // The text side gives unit vectors of the image side's length, one per text, in order.
        let encoder = try #require(textModel.textEncoder)
        let vectors = try encoder.embed(["a photo of a dog", "a photo of a cat", "a photo of a dog"])
        #expect(vectors.count == 3 && vectors.allSatisfy { $0.count == 64 })
        #expect(vectors[0] == vectors[2] && vectors[0] != vectors[1])
        #expect(abs(vectors[1].reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        let photo = try #require(registry.model("tiny-clip-image"))
        let output = try await photo.analyze(path: TestModels.photo("chelsea.png").path)
        #expect(output.embedding?.count == 64)
    }

    @Test("the manifests' own checks name what is wrong")
    func manifestChecks() throws {
        func problem(_ json: String) -> String? {
            do {
                try JSONDecoder().decode(ModelManifest.self, from: Data(json.utf8)).validate()
                return nil
            } catch let error as ManifestError {
                return error.message
            } catch {
                return "\(error)"
            }
        }
        let input =
            #""input": {"name": "pixel_values", "layout": "NCHW", "width": 224, "height": 224, "colors": "RGB", "resize": "stretch", "scale": 255, "mean": [0, 0, 0], "std": [1, 1, 1]}"#
        let text = #""text": {"input": "input_ids", "merges": "clip-merges.txt"}"#
        let embedding = #""outputs": {"embedding": "e"}"#
        #expect(problem(#"{"name": "t", "tasks": ["embed-text"], "file": "t.onnx", \#(text), \#(embedding)}"#) == nil)
        #expect(
            problem(#"{"name": "t", "tasks": ["embed-text", "embed"], "file": "t.onnx", \#(text), \#(embedding)}"#)
                == "a text model does nothing else: tasks must be [\"embed-text\"]")
        #expect(
            problem(#"{"name": "t", "tasks": ["embed-text"], "file": "t.onnx", \#(embedding)}"#)
                == "embed-text needs text.input (the int64 token ids) and text.merges (CLIP's merge list)")
        #expect(
            problem(#"{"name": "i", "tasks": ["embed-image"], "file": "i.onnx", \#(input), \#(embedding)}"#)
                == "embed-image needs pair: the name of the embed-text model that embeds its texts")
        #expect(
            problem(
                #"{"name": "i", "tasks": ["embed-image"], "file": "i.onnx", "pair": "t", "logit_scale": 0, \#(input), \#(embedding)}"#
            ) == "logit_scale must be above 0 and at most 1000 (CLIP's is 100)")
        #expect(
            problem(#"{"name": "i", "tasks": ["embed"], "file": "i.onnx", "pair": "t", \#(input), \#(embedding)}"#)
                == "pair and logit_scale are for embed-image models")
        #expect(
            problem(
                #"{"name": "i", "tasks": ["embed-image"], "file": "i.onnx", "pair": "t", \#(input), "outputs": {}}"#)
                == "task embed-image needs outputs.embedding")
    }
}
