import Foundation
import IrisImaging
import IrisTesting
import Logging
import Synchronization
import Testing

@testable import IrisML

/// Local models are checked at start, loaded by their first run and released when idle.
@Suite struct ModelLifetimeTests {
    /// A registry of its own with the bundled models, so other tests' runs do not keep its
    /// graphs busy.
    static func registry(idleUnload: TimeInterval?) throws -> ModelRegistry {
        try ModelRegistry.load(
            folder: TestModels.folder, runtimeLibrary: TestModels.runtimeLibrary, threads: .init(intraOp: 2),
            idleUnload: idleUnload, hierarchies: TestModels.hierarchies, logger: Logger(label: "test"))
    }

    /// Polls `condition` every 20 ms until it holds or `seconds` have passed; answers whether it held.
    static func eventually(within seconds: Double = 20, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test func noGraphIsInMemoryAfterStart() throws {
        // act
        let registry = try Self.registry(idleUnload: 300)
        // check
        let problems = registry.entries.compactMap(\.problem)
        #expect(problems.isEmpty, "\(problems)")
        let graphs = Dictionary(uniqueKeysWithValues: registry.available.map { ($0.name, $0.graphs.count) })
        // A derived model runs its base model's graph.
        #expect(
            graphs == [
                "efficientnet-lite0": 1, "mobilenet-v2": 1, "open-nsfw": 1, "ppocr-v4": 2,
                "efficientnet-lite0-wordnet": 1, "mobilenet-v2-wordnet": 1,
            ])
        for model in registry.available {
            #expect(model.loadedGraphs == 0, "\(model.name)")
            #expect(model.graphs.allSatisfy { $0.loads == 0 }, "\(model.name)")
        }
    }

    @Test func aModelLoadsOnItsFirstAnalysisAndIsReleasedAfterTheIdleTime() async throws {
        // setup
        let idle = 1.5
        let registry = try Self.registry(idleUnload: idle)
        let model = try #require(registry.model("mobilenet-v2"))
        let other = try #require(registry.model("open-nsfw"))
        let cat = TestModels.photo("chelsea.png").path
        // act
        let asked = ContinuousClock.now
        let first = try await model.analyze(path: cat)
        // check: loaded once, by the analysis, and only this model (whether it is still in memory
        // depends on how busy the machine is: the idle time may have passed already)
        #expect(model.graphs[0].loads == 1)
        #expect(other.graphs[0].loads == 0)
        let catLabels = ["tabby", "tiger cat", "Egyptian cat"]
        #expect(first.labels?.first.map { top in catLabels.contains { top.label.hasPrefix($0) } } == true)
        // act: wait for the release
        #expect(try await Self.eventually { model.loadedGraphs == 0 })
        // check: not before the idle time (counted from the run's end, after it was asked)
        #expect(asked.duration(to: .now) >= .milliseconds(Int(idle * 1000)))
        // act: a run after the release loads the graph again and answers as before
        let again = try await model.analyze(path: cat)
        #expect(model.graphs[0].loads == 2)
        #expect(again.labels?.map(\.label) == first.labels?.map(\.label))
        let similarity = zip(try #require(again.embedding), try #require(first.embedding)).map(*).reduce(0, +)
        #expect(similarity > 0.9999)
        #expect(try await Self.eventually { model.loadedGraphs == 0 })
    }

    @Test func theTextReadersTwoGraphsLoadAndAreReleasedTogether() async throws {
        // setup
        let registry = try Self.registry(idleUnload: 1)
        let model = try #require(registry.model("ppocr-v4"))
        let page = TestModels.photo("page.png").path
        // act
        let first = try #require(try await model.analyze(path: page).text)
        // check: the detector and the recogniser were both loaded (the recogniser again if a
        // pause between two lines outlasted the idle time on a busy machine)
        #expect(model.graphs.allSatisfy { $0.loads >= 1 })
        #expect(try await Self.eventually { model.loadedGraphs == 0 })
        let loads = model.graphs.map(\.loads)
        let again = try #require(try await model.analyze(path: page).text)
        #expect(again.map(\.text) == first.map(\.text))
        #expect(!first.isEmpty)
        #expect(zip(model.graphs.map(\.loads), loads).allSatisfy { $0 > $1 })
    }

    /// Analyses that start while the graph is being released, and just after: each either
    /// holds the session it found (which is then not released under it) or loads a new one.
    @Test func concurrentAnalysesAcrossReleasesAllSucceed() async throws {
        // setup: released 30 ms after the last run
        let registry = try Self.registry(idleUnload: 0.03)
        let model = try #require(registry.model("mobilenet-v2"))
        let pixels = try model.pixels(path: TestModels.photo("coffee.png").path)
        let alone = try await model.analyze(pixels)
        var outputs: [ModelOutput] = []
        for _ in 0..<6 {
            #expect(try await Self.eventually { model.loadedGraphs == 0 })
            // act: twelve analyses spread over 0–60 ms, around the moment the last one's
            // session would be released
            outputs += try await withThrowingTaskGroup(of: ModelOutput.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(index * 5))
                        return try await model.analyze(pixels)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        // check
        #expect(outputs.count == 72)
        for output in outputs {
            #expect(output.labels?.map(\.label) == alone.labels?.map(\.label))
        }
        #expect(model.graphs[0].loads >= 7, "loads: \(model.graphs[0].loads)")
        #expect(try await Self.eventually { model.loadedGraphs == 0 })
    }

    @Test func withoutAnIdleTimeALoadedGraphStays() async throws {
        // setup
        let registry = try Self.registry(idleUnload: 0)
        let model = try #require(registry.model("mobilenet-v2"))
        #expect(model.loadedGraphs == 0)
        // act
        _ = try await model.analyze(path: TestModels.photo("coffee.png").path)
        try await Task.sleep(for: .milliseconds(300))
        // check
        #expect(model.loadedGraphs == 1)
    }

    /// A graph that is no ONNX file, and one that disagrees with its manifest, are reported by
    /// `load` (at start) although no graph is kept in memory.
    @Test func aBrokenGraphIsStillFoundAtStart() throws {
        // setup
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("iris-models-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createSymbolicLink(
            at: folder.appendingPathComponent("net.onnx"),
            withDestinationURL: TestModels.folder.appendingPathComponent("mobilenet-v2.onnx"))
        try Data("not a graph".utf8).write(to: folder.appendingPathComponent("garbage.onnx"))
        try Data("a\nb\n".utf8).write(to: folder.appendingPathComponent("two.txt"))
        try FileManager.default.copyItem(
            at: TestModels.folder.appendingPathComponent("imagenet-labels.txt"),
            to: folder.appendingPathComponent("imagenet-labels.txt"))
        let good = try String(
            contentsOf: TestModels.folder.appendingPathComponent("mobilenet-v2.json"), encoding: .utf8
        ).replacingOccurrences(of: "mobilenet-v2.onnx", with: "net.onnx")
        func write(_ name: String, _ text: String) throws {
            try Data(text.replacingOccurrences(of: "\"mobilenet-v2\"", with: "\"\(name)\"").utf8).write(
                to: folder.appendingPathComponent(name + ".json"))
        }
        try write("good", good)
        try write("garbage", good.replacingOccurrences(of: "net.onnx", with: "garbage.onnx"))
        try write("labels", good.replacingOccurrences(of: "imagenet-labels.txt", with: "two.txt"))
        // act
        let registry = try ModelRegistry.load(
            folder: folder, runtimeLibrary: TestModels.runtimeLibrary, threads: .init(intraOp: 1), idleUnload: 300,
            logger: Logger(label: "test"))
        // check
        let problems = Dictionary(uniqueKeysWithValues: registry.entries.map { ($0.name, $0.problem) })
        #expect(problems["good"] == .some(nil))
        #expect(problems["garbage"]??.contains("CreateSession") == true, "\(problems)")
        #expect(problems["labels"]??.contains("scores 1000 classes but two.txt lists 2") == true, "\(problems)")
        #expect(registry.available.map(\.name) == ["good"])
        #expect(registry.model("good")?.loadedGraphs == 0)
    }

    /// However many call at once, at most two batches' worth of callers are inside a batcher
    /// (decoding, queued or running); the rest wait, and every one is answered.
    @Test func aBatcherAdmitsAtMostTwoBatchesOfCallers() async throws {
        // setup: batches of up to 2, each run taking 20 ms
        let batcher = Batcher(maxBatch: 2) { batch in
            try await Task.sleep(for: .milliseconds(20))
            return ["out": Tensor(shape: batch.shape, values: batch.values.map { $0 + 1 })]
        }
        let inside = Inside()
        // act: 24 callers at once
        let answers = try await withThrowingTaskGroup(of: [Float].self) { group in
            for value in 0..<24 {
                group.addTask {
                    try await batcher.admitted {
                        inside.state.withLock { state in
                            state.now += 1
                            state.most = max(state.most, state.now)
                        }
                        defer { inside.state.withLock { $0.now -= 1 } }
                        return try await batcher.run([Float(value)], shape: [1])["out"]!.values
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        // check
        #expect(answers.sorted() == (1...24).map(Float.init))
        #expect(inside.state.withLock { $0.most } == 4)
        #expect(batcher.batchSizes.allSatisfy { $0 <= 2 })
    }
}

/// Callers inside a batcher now, and the most at once.
final class Inside: Sendable {
    let state = Mutex((now: 0, most: 0))
}
