import Foundation
import IrisImaging
import IrisTesting
import Logging
import Testing

@testable import IrisML

@Suite struct ModelTests {
    @Test func theBundledModelsAreReady() throws {
        let registry = try TestModels.registry()
        #expect(
            registry.entries.map(\.name) == [
                "efficientnet-lite0", "mobilenet-v2", "open-nsfw", "ppocr-v4", "efficientnet-lite0-wordnet",
                "mobilenet-v2-wordnet",
            ])
        for entry in registry.entries { #expect(entry.problem == nil, "\(entry.name): \(entry.problem ?? "")") }
        #expect(registry.runtimeVersion == "1.32.0")
    }

    @Test("the second extractor, EfficientNet-Lite0, also sees a cat and gives a unit 1280-d embedding")
    func efficientNetSeesACat() async throws {
        let model = try #require(try TestModels.registry().model("efficientnet-lite0"))
        let output = try await model.analyze(path: TestModels.photo("chelsea.png").path)
        let labels = try #require(output.labels)
        let catLabels = ["tabby", "tiger cat", "Egyptian cat"]
        let catScore = labels.filter { label in catLabels.contains { label.label.hasPrefix($0) } }.map(\.score).reduce(
            0, +)
        #expect(catScore > 0.8, "\(labels)")
        let embedding = try #require(output.embedding)
        #expect(embedding.count == 1280)
        #expect(abs(embedding.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
    }

    @Test func aCatPhotoGetsCatLabelsAndAnEmbedding() async throws {
        let model = try #require(try TestModels.registry().model("mobilenet-v2"))
        let output = try await model.analyze(path: TestModels.photo("chelsea.png").path)
        let labels = try #require(output.labels)
        #expect(labels.count == 5)
        #expect(labels.map(\.score) == labels.map(\.score).sorted(by: >))
        let catLabels = ["tabby", "tiger cat", "Egyptian cat"]
        #expect(catLabels.contains { labels[0].label.hasPrefix($0) }, "top label \(labels[0].label)")
        let catScore = labels.filter { label in catLabels.contains { label.label.hasPrefix($0) } }.map(\.score).reduce(
            0, +)
        #expect(catScore > 0.8)
        let embedding = try #require(output.embedding)
        #expect(embedding.count == 1280)
        #expect(abs(embedding.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
        #expect(output.moderation == nil && output.text == nil)
    }

    @Test func coffeeIsNotACat() async throws {
        let model = try #require(try TestModels.registry().model("mobilenet-v2"))
        let coffee = try await model.analyze(path: TestModels.photo("coffee.png").path)
        #expect(coffee.labels?.first?.label == "espresso")
        let cat = try await model.analyze(path: TestModels.photo("chelsea.png").path)
        // Embeddings of different subjects are far apart; of the same image, identical.
        let similarity = zip(coffee.embedding!, cat.embedding!).map(*).reduce(0, +)
        #expect(similarity < 0.6)
        let again = try await model.analyze(path: TestModels.photo("chelsea.png").path)
        #expect(again.embedding == cat.embedding)
    }

    @Test(
        "a derived model: MobileNetV2's embedding beside its classes pushed up WordNet, the same whether run or derived from the base's analysis"
    )
    func derivedModel() async throws {
        let registry = try TestModels.registry()
        let base = try #require(registry.model("mobilenet-v2"))
        let derived = try #require(registry.model("mobilenet-v2-wordnet"))
        #expect(registry.derived(from: "mobilenet-v2").map(\.name) == ["mobilenet-v2-wordnet"])
        #expect(derived.manifest.tasks == [.embed] && derived.manifest.derived?.from == "mobilenet-v2")
        let cat = try await base.analyze(path: TestModels.photo("chelsea.png").path)
        let made = try #require(try derived.derive(from: cat))
        let run = try #require(try await derived.analyze(path: TestModels.photo("chelsea.png").path).embedding)
        #expect(made.count == 1280 + 1860 && run.count == made.count)
        #expect(abs(made.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
        #expect(zip(made, run).allSatisfy { abs($0 - $1) < 1e-4 })
        // The embedding is its first part, at 1/√2 of its length (two unit parts, weight 1 each).
        let embedding = try #require(cat.embedding)
        let share = Float(0.5).squareRoot()
        #expect(zip(made.prefix(1280), embedding).allSatisfy { abs($0 - $1 * share) < 1e-4 })
        // Another photo of the cat shares the hierarchy's nodes far more than a cup of coffee does.
        let crop = FileManager.default.temporaryDirectory.appendingPathComponent("cat-\(UUID().uuidString).jpg")
        try TestModels.evalPhoto("cat", 3).write(to: crop)
        defer { try? FileManager.default.removeItem(at: crop) }
        let otherCat = try #require(try await derived.analyze(path: crop.path).embedding)
        let coffee = try #require(try await derived.analyze(path: TestModels.photo("coffee.png").path).embedding)
        func semantic(_ a: [Float], _ b: [Float]) -> Float {
            var dot: Float = 0
            for index in 1280..<a.count { dot += a[index] * b[index] }
            return dot
        }
        #expect(
            semantic(made, otherCat) > 2 * semantic(made, coffee),
            "\(semantic(made, otherCat)) \(semantic(made, coffee))")
    }

    @Test("a derived model over a model that is not there, or a hierarchy Iris does not know, is reported at load")
    func derivedModelProblems() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("derived-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(
            #"{"name": "orphan", "tasks": ["embed"], "derived": {"from": "mobilenet-v2", "hierarchy": "wordnet", "transform": "log", "weight": 1}}"#
                .utf8
        ).write(to: folder.appendingPathComponent("orphan.json"))
        let registry = try ModelRegistry.load(
            folder: folder, runtimeLibrary: TestModels.runtimeLibrary, threads: .init(intraOp: 1),
            logger: Logger(label: "test"))
        #expect(registry.model("orphan") == nil)
        #expect(
            registry.entries.first?.problem
                == "derived.from names mobilenet-v2, which is not a model ready here")
    }

    @Test func moderationScoresEverydayPhotosAsSafe() async throws {
        let model = try #require(try TestModels.registry().model("open-nsfw"))
        for photo in ["chelsea.png", "coffee.png", "rocket.jpg"] {
            let score = try #require(try await model.analyze(path: TestModels.photo(photo).path).moderation)
            #expect(score >= 0 && score < 0.2, "\(photo): \(score)")
        }
    }

    @Test func concurrentRequestsShareBatches() async throws {
        // A registry of its own, so other tests' runs do not share these batches.
        let registry = try ModelRegistry.load(
            folder: TestModels.folder, runtimeLibrary: TestModels.runtimeLibrary, threads: .init(intraOp: 2),
            logger: Logger(label: "test"))
        let model = try #require(registry.model("mobilenet-v2"))
        let pixels = try model.pixels(path: TestModels.photo("coffee.png").path)
        let batcher = try #require(model.backend as? Batcher)
        // Up to six rounds of 12 at once: on a machine busy with the rest of the suite the
        // requests of one round can arrive one by one, and then there is nothing to share (CI
        // once saw three such rounds in a row).
        var outputs: [ModelOutput] = []
        var sizes: [Int] = []
        for _ in 0..<6 where !sizes.contains(where: { $0 > 1 }) {
            let before = batcher.batchSizes.count
            outputs = try await withThrowingTaskGroup(of: ModelOutput.self) { group in
                for _ in 0..<12 { group.addTask { try await model.analyze(pixels) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            sizes = Array(batcher.batchSizes[before...])
            #expect(sizes.reduce(0, +) == 12)
        }
        #expect(sizes.contains { $0 > 1 }, "batch sizes \(sizes)")
        #expect(sizes.allSatisfy { $0 <= 8 })
        // Every answer is the one a lone run gives.
        let alone = try await model.analyze(pixels)
        for output in outputs { #expect(output.labels?.map(\.label) == alone.labels?.map(\.label)) }
    }

    @Test func readsPrintedText() async throws {
        let model = try #require(try TestModels.registry().model("ppocr-v4"))
        let output = try await model.analyze(path: TestModels.photo("page.png").path)
        let lines = try #require(output.text)
        // scikit-image's page.png: a scanned page of its documentation. ONNX Runtime picks its
        // kernels by the CPU's instruction set, so another machine may read a character or a
        // space differently, or cut a line in two: text counts as read when at most 2
        // characters differ, and a phrase is looked for in the page read left to right, top
        // to bottom.
        let read = lines.map(\.text)
        #expect(read.first.map { Self.differences($0, "Region-based segmentation") <= 2 } == true, "\(read)")
        #expect(
            Self.differences(read.joined(separator: " "), "background. These markers are pixels", within: true) <= 2,
            "\(read)")
        for line in lines {
            #expect(line.confidence > 0.5 && line.confidence <= 1)
            #expect(line.box.x >= 0 && line.box.y >= 0 && line.box.width > line.box.height)
        }
        // Lines come top to bottom (pieces of one line, within 10 px of each other, left to right).
        #expect(lines.map { $0.box.y / 10 } == lines.map { $0.box.y / 10 }.sorted())
    }

    /// Photos without text gave the reader noise: "C" at 0.51 on the cat, "**" on the rocket,
    /// "4" on the coins. None of it may reach text search.
    @Test func photosWithoutTextReadNothing() async throws {
        let model = try #require(try TestModels.registry().model("ppocr-v4"))
        for photo in ["chelsea.png", "rocket.jpg", "coins.png", "coffee.png"] {
            let output = try await model.analyze(path: TestModels.photo(photo).path)
            #expect(output.text?.map(\.text) == [], "\(photo)")
        }
    }

    @Test func shortOrUnsureReadingsAreNotText() {
        #expect(!TextReader.isText("C", confidence: 0.51))
        #expect(!TextReader.isText("8", confidence: 0.99))
        #expect(!TextReader.isText("**", confidence: 0.9))
        #expect(!TextReader.isText("的！", confidence: 0.95))
        #expect(!TextReader.isText("AHOCIRA", confidence: 0.55))
        #expect(TextReader.isText("YAMAHA", confidence: 0.84))
        #expect(TextReader.isText("42", confidence: 0.7))
        #expect(TextReader.isText("石政", confidence: 0.7))
    }

    @Test func countsDifferencesInReadText() {
        #expect(Self.differences("Region-based segmentation", "Region-based segmentation") == 0)
        #expect(Self.differences("Regionbased segmentatoin", "Region-based segmentation") == 3)
        #expect(
            Self.differences(
                "the background.These markers are pixels we", "background. These markers are pixels", within: true) == 1
        )
        #expect(Self.differences("", "abc") == 3)
    }

    /// How many characters must be inserted, deleted or changed to turn `read` into
    /// `expected`; `within`: into a stretch of `read` that contains `expected`.
    static func differences(_ read: String, _ expected: String, within: Bool = false) -> Int {
        let read = Array(read)
        let expected = Array(expected)
        guard !read.isEmpty else { return expected.count }
        // row[j]: the cost of turning read's first j characters (or, within, a stretch of
        // read ending at j) into expected's first i.
        var row = within ? [Int](repeating: 0, count: read.count + 1) : Array(0...read.count)
        for i in 1...expected.count {
            var next = [i] + [Int](repeating: 0, count: read.count)
            for j in 1...read.count {
                next[j] = min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (expected[i - 1] == read[j - 1] ? 0 : 1))
            }
            row = next
        }
        return within ? row.min()! : row[read.count]
    }
}

@Suite struct ManifestTests {
    /// A folder with a good manifest, one naming a missing file, one that disagrees with
    /// its graph, one whose labels do not match, and one that is not JSON.
    @Test func problemsAreReportedPerModelAtLoad() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("iris-models-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createSymbolicLink(
            at: folder.appendingPathComponent("net.onnx"),
            withDestinationURL: TestModels.folder.appendingPathComponent("mobilenet-v2.onnx"))
        try FileManager.default.copyItem(
            at: TestModels.folder.appendingPathComponent("imagenet-labels.txt"),
            to: folder.appendingPathComponent("labels.txt"))
        try Data("a\nb\n".utf8).write(to: folder.appendingPathComponent("two.txt"))
        let good = try String(
            contentsOf: TestModels.folder.appendingPathComponent("mobilenet-v2.json"), encoding: .utf8
        )
        .replacingOccurrences(of: "mobilenet-v2.onnx", with: "net.onnx")
        .replacingOccurrences(of: "imagenet-labels.txt", with: "labels.txt")
        func write(_ name: String, _ text: String) throws {
            try Data(text.utf8).write(to: folder.appendingPathComponent(name + ".json"))
        }
        try write("a-good", good.replacingOccurrences(of: "\"mobilenet-v2\"", with: "\"good\""))
        try write(
            "b-missing",
            good.replacingOccurrences(of: "\"mobilenet-v2\"", with: "\"missing\"").replacingOccurrences(
                of: "net.onnx", with: "gone.onnx"))
        try write(
            "c-size",
            good.replacingOccurrences(of: "\"mobilenet-v2\"", with: "\"size\"")
                .replacingOccurrences(of: "\"width\": 224, \"height\": 224", with: "\"width\": 299, \"height\": 299")
                .replacingOccurrences(of: "\"short_side\": 256", with: "\"short_side\": 320"))
        try write(
            "d-labels",
            good.replacingOccurrences(of: "\"mobilenet-v2\"", with: "\"labels\"").replacingOccurrences(
                of: "labels.txt", with: "two.txt"))
        try write("e-broken", "{\"name\": \"broken\", ")
        try write(
            "f-input",
            good.replacingOccurrences(of: "\"mobilenet-v2\"", with: "\"input\"").replacingOccurrences(
                of: "\"name\": \"image\"", with: "\"name\": \"pixels\""))

        let registry = try ModelRegistry.load(
            folder: folder, runtimeLibrary: TestModels.runtimeLibrary, threads: .init(intraOp: 1),
            logger: Logger(label: "test"))
        let problems = Dictionary(uniqueKeysWithValues: registry.entries.map { ($0.name, $0.problem) })
        #expect(problems["good"] == .some(nil))
        #expect(registry.model("good") != nil)
        #expect(problems["missing"]??.contains("gone.onnx is missing") == true)
        #expect(problems["size"]??.contains("the graph takes 224×224 images but the manifest says 299×299") == true)
        #expect(problems["labels"]??.contains("scores 1000 classes but two.txt lists 2") == true)
        #expect(problems["e-broken"]??.contains("e-broken.json is not a valid manifest") == true)
        #expect(problems["input"]??.contains("input pixels is not in the graph (it has image)") == true)
        #expect(registry.available.map(\.name) == ["good"])
    }

    @Test func aManifestIsCheckedBeforeItsGraph() throws {
        let manifest = try JSONDecoder().decode(
            ModelManifest.self, from: Data(contentsOf: TestModels.folder.appendingPathComponent("mobilenet-v2.json")))
        try manifest.validate()
        var bad = manifest
        bad.name = "Bad Name"
        #expect(throws: ManifestError.self) { try bad.validate() }
        bad = manifest
        bad.outputs["embedding"] = nil
        #expect(throws: ManifestError(model: "mobilenet-v2", message: "task embed needs outputs.embedding")) {
            try bad.validate()
        }
        bad = manifest
        bad.remote = .init(url: "http://127.0.0.1:9", model: "x", timeoutSeconds: nil)
        #expect(throws: ManifestError(model: "mobilenet-v2", message: "exactly one of file and remote must be given")) {
            try bad.validate()
        }
    }
}
