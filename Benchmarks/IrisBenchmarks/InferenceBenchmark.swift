import Foundation
import IrisCore
import IrisML
public import IrisServices
import IrisStore
import NIOConcurrencyHelpers

/// `iris models bench`: classify + embed throughput of Iris end to end (libvips decode with
/// shrink-on-load, preprocessing, batched inference, results stored in SQLite) against bare
/// ONNX Runtime on tensors already in memory, same images, same thread count, same run.
public enum InferenceBenchmark {
    public struct Report {
        public var name: String
        public var images: Int
        public var seconds: Double
        public var latencies: [Double]

        public var perSecond: Double { Double(images) / seconds }
        public func percentile(_ p: Double) -> Double {
            let sorted = latencies.sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))] * 1000
        }
        public var line: String {
            String(
                format: "%@: %d images in %.2f s = %.1f images/s; latency p50 %.1f ms, p99 %.1f ms", name, images,
                seconds, perSecond,
                percentile(0.5), percentile(0.99))
        }
    }

    public static func run(settings: IrisSettings, files: [String], rounds: Int, concurrency: Int) async throws {
        let logger = settings.makeLogger()
        let registry = settings.models.registry(logger: logger)
        guard let model = registry.model("mobilenet-v2") else {
            throw Refusal.unavailable("mobilenet-v2 is not available")
        }
        print(
            "models loaded: \(registry.available.map(\.name).joined(separator: ", ")); peak memory \(peakMemoryMB()) MB"
        )
        let work = (0..<rounds).flatMap { _ in files }

        // Bare ONNX Runtime: the same graph, tensors made beforehand, one image a run.
        let session = try InferenceSession(
            runtime: try ONNXRuntime.load(from: settings.models.runtimeLibrary),
            path: registry.folder.appendingPathComponent(model.manifest.file!).path,
            threads: settings.models.sessionThreads)
        let tensors = try files.map { try model.tensor(model.pixels(path: $0)) }
        _ = try session.run(
            ["image": Tensor(shape: [1] + tensors[0].shape, values: tensors[0].values)],
            outputs: ["logits", "embedding"])
        var bare = Report(name: "bare ONNX Runtime (tensors in memory)", images: work.count, seconds: 0, latencies: [])
        let bareStart = Date()
        for index in work.indices {
            let tensor = tensors[index % tensors.count]
            let start = Date()
            _ = try session.run(
                ["image": Tensor(shape: [1] + tensor.shape, values: tensor.values)], outputs: ["logits", "embedding"])
            bare.latencies.append(Date().timeIntervalSince(start))
        }
        bare.seconds = Date().timeIntervalSince(bareStart)

        // Where Iris's time goes: libvips decode + resize, then turning pixels into a tensor.
        var decode = Report(name: "  of which libvips decode + resize", images: files.count, seconds: 0, latencies: [])
        var tensorize = Report(name: "  of which pixels → tensor", images: files.count, seconds: 0, latencies: [])
        for file in files {
            var start = Date()
            let pixels = try model.pixels(path: file)
            decode.latencies.append(Date().timeIntervalSince(start))
            start = Date()
            _ = model.tensor(pixels)
            tensorize.latencies.append(Date().timeIntervalSince(start))
        }
        decode.seconds = decode.latencies.reduce(0, +)
        tensorize.seconds = tensorize.latencies.reduce(0, +)

        // Iris: decode, resize, infer (batched across concurrent jobs), store.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("iris-inference-bench-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try await IrisStore.open(
            .sqlite(path: folder.appendingPathComponent("bench.sqlite").path), logger: logger)
        for (index, _) in files.enumerated() {
            _ = try await store.projects.create(name: "bench \(index)", description: "", labelSet: nil)
        }
        for (index, file) in files.enumerated() {
            let record = ImageRecord(
                sha256: String(format: "%064x", index), format: .jpeg, width: 1, height: 1, bytes: 1, capturedAt: nil,
                createdAt: Date())
            _ = try await store.images.add(record, to: Int64(index + 1), labels: [], originalName: file, linkID: nil)
        }
        var iris = Report(name: "Iris (decode + resize + infer + store)", images: work.count, seconds: 0, latencies: [])
        let irisStart = Date()
        let storing = NIOLockedValueBox<[Double]>([])
        iris.latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for lane in 0..<concurrency {
                group.addTask {
                    var latencies: [Double] = []
                    for index in stride(from: lane, to: work.count, by: concurrency) {
                        let start = Date()
                        let output = try await model.analyze(path: work[index])
                        let sha256 = String(format: "%064x", index % files.count)
                        let saving = Date()
                        defer { storing.withLockedValue { $0.append(Date().timeIntervalSince(saving)) } }
                        _ = try await store.analyses.save(
                            Analysis(sha256: sha256, model: model.name, result: "{}", createdAt: Date()),
                            labels: (output.labels ?? []).map { ($0.label, $0.score) }, embedding: output.embedding,
                            moderation: nil)
                        latencies.append(Date().timeIntervalSince(start))
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        iris.seconds = Date().timeIntervalSince(irisStart)
        await store.database.shutdown()
        print(bare.line)
        print(iris.line)
        let stored = storing.withLockedValue { $0 }
        print(
            Report(
                name: "  of which storing the result (SQLite transaction)", images: stored.count,
                seconds: stored.reduce(0, +), latencies: stored
            ).line)
        print(decode.line)
        print(tensorize.line)
        print(String(format: "ratio: Iris / bare = %.2f× (target ≥ 0.85×)", iris.perSecond / bare.perSecond))
        print("peak memory with all models loaded and both runs done: \(peakMemoryMB()) MB")
    }

    public static func peakMemoryMB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss / 1024)
    }
}
