import Foundation
import IrisBlobs
import IrisCore
import IrisImaging
import IrisML
public import IrisServices
import IrisStore
import Logging

/// `iris learn bench` (part of `make bench`): the three speed figures, each against
/// its baseline measured in the same run.
/// 1. Adding a 100-image class end to end (store, embed, update the learner) against the
///    embedding alone on the same files: the share of time spent outside inference.
/// 2. Classifying one embedding against 1,000 classes (beyond the embedding itself).
/// 3. Training a head on 10,000 embeddings × 50 classes.
/// The first two alternate with their baselines for `rounds` pairs (medians and ranges).
public enum LearningBenchmark {

    struct AddTiming {
        var added: Int
        var total: Double
        var storing: Double
        var embedding: Double
    }

    /// Stores `files` as a class in a fresh data folder and teaches it to the learner.
    static func addClass(_ files: [URL], settings: IrisSettings, registry: ModelRegistry, logger: Logger) async throws
        -> AddTiming
    {
        let clock = ContinuousClock()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("iris-learning-bench-\(UUID())")
        defer { try? FileManager.default.removeItem(at: work) }
        var local = settings
        local.dataDirectory = work
        local.database = .sqlite(path: work.appendingPathComponent("iris.sqlite").path)
        let dependencies = try await IrisDependencies.open(local, logger: logger)
        do {
            let learning = LearningService(
                store: dependencies.store, blobs: dependencies.blobs, models: registry,
                model: settings.models.learnerModel, thresholds: settings.models.thresholds,
                audit: AuditLog(store: dependencies.store))
            let project = try await dependencies.store.projects.create(name: "bench", description: "", labelSet: nil)
            let importer = try dependencies.importer(settings)
            let staging = work.appendingPathComponent("class")
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
            for (index, file) in files.enumerated() {
                try FileManager.default.copyItem(at: file, to: staging.appendingPathComponent("\(index).jpg"))
            }
            let start = clock.now
            let report = try await importer.importFolder(
                at: staging, into: project, format: .imagefolder, labelFromFolders: false, label: "bench")
            let stored = clock.now
            let added = try await learning.addClass(projectID: project.id, name: "bench", sha256s: report.sha256s)
            let timing = AddTiming(
                added: added.added, total: (clock.now - start).seconds, storing: (stored - start).seconds,
                embedding: (clock.now - stored).seconds)
            await dependencies.close()
            return timing
        } catch {
            await dependencies.close()
            throw error
        }
    }

    public static func run(settings: IrisSettings, folder: String, rounds: Int = 5) async throws {
        let logger = settings.makeLogger()
        let registry = settings.models.registry(logger: logger)
        guard let model = registry.model(settings.models.learnerModel) else {
            throw Refusal.unavailable("\(settings.models.learnerModel) is not available; run scripts/prepare-models.sh")
        }
        // 1. A 100-image class from a folder of photos (the evaluation set's crops).
        let root = URL(fileURLWithPath: folder)
        var files: [URL] = []
        for label in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() where !label.hasPrefix(".") {
            for name in try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(label).path)
                .sorted() where name.hasSuffix(".jpg")
            {
                files.append(root.appendingPathComponent(label).appendingPathComponent(name))
            }
        }
        files = Array(files.prefix(100))
        let clock = ContinuousClock()
        let warm = try await model.analyze(path: files[0].path)  // warm up
        // Alternately, the baseline (the embeddings alone) then the whole add, each add in a fresh
        // data folder so no round finds the last one's blobs.
        var pairs: [(inference: Double, add: AddTiming)] = []
        for _ in 0..<rounds {
            let inferenceStart = clock.now
            for file in files { _ = try await model.analyze(path: file.path) }
            let inference = (clock.now - inferenceStart).seconds
            pairs.append((inference, try await addClass(files, settings: settings, registry: registry, logger: logger)))
        }
        let median = pairs.sorted { $0.add.total < $1.add.total }[pairs.count / 2]
        let shares = pairs.map { ($0.add.total - $0.inference) / $0.add.total * 100 }
        print(
            String(
                format:
                    "add a %d-image class: %.2f s end to end (median of %d) = store %.2f s (hash, blob, thumbnail, rows) + embed and learn %.2f s",
                median.add.added, median.add.total, pairs.count, median.add.storing, median.add.embedding))
        print(
            String(
                format: "  baseline, the embeddings alone (decode + resize + infer), same files: %.2f s (median)",
                Pairs.median(pairs.map(\.inference))))
        print(
            String(
                format: "  share outside inference: %.1f%% median (%.1f–%.1f%%, %d interleaved pairs; target < 15%%)",
                Pairs.median(shares), shares.min() ?? 0, shares.max() ?? 0, shares.count))

        // 2. One embedding against 1,000 classes.
        var rng = SplitMix(seed: 1)
        // As long as the learner model's vectors (1280 + 1860 for the semantic features).
        let dimension = warm.embedding?.count ?? 1280
        func vector() -> [Float] { (0..<dimension).map { _ in Float.random(in: 0...1, using: &rng) } }
        var learner = IncrementalLearner(dimension: dimension)
        for index in 0..<1000 { for _ in 0..<3 { learner.add(vector(), to: "class \(index)") } }
        let probes = (0..<200).map { _ in vector() }
        // Prepared once per learner change (the server keeps it while the learner is unchanged).
        let prepareStart = clock.now
        let ready = learner.prepared(rules: settings.models.thresholds)
        let prepare = (clock.now - prepareStart).seconds
        _ = ready.classify(probes[0])
        // Alternately, 200 classifications then the embedding they follow (one photo).
        var perClassify: [Double] = []
        var embeddings: [Double] = []
        for round in 0..<rounds {
            let classifyStart = clock.now
            for probe in probes { _ = ready.classify(probe) }
            perClassify.append((clock.now - classifyStart).seconds / Double(probes.count))
            let embedStart = clock.now
            _ = try await model.analyze(path: files[(round + 1) % files.count].path)
            embeddings.append((clock.now - embedStart).seconds)
        }
        print(
            String(
                format:
                    "classify one image against 1000 classes: %.3f ms beyond the embedding (median of %d; target < 1 ms); the embedding itself: %.1f ms; preparing the learner after a change: %.1f ms",
                Pairs.median(perClassify) * 1000, rounds, Pairs.median(embeddings) * 1000, prepare * 1000))

        // 2b. A derived model's vector from its base model's output (what each upload's analysis
        // adds), against the embedding itself.
        if let derived = model.manifest.derived, let base = registry.model(derived.from) {
            let output = try await base.analyze(path: files[0].path)
            var perDerive: [Double] = []
            for _ in 0..<rounds {
                let start = clock.now
                for _ in 0..<200 { _ = try model.derive(from: output) }
                perDerive.append((clock.now - start).seconds / 200)
            }
            let share = Pairs.median(perDerive) / Pairs.median(embeddings) * 100
            print(
                "\(model.name)'s vector from \(derived.from)'s output (classes pushed up \(derived.hierarchy)): "
                    + String(
                        format: "%.3f ms, %.2f%% of the embedding's time (median of %d; target < 1%%)",
                        Pairs.median(perDerive) * 1000, share, rounds))
        }

        // 3. A head on 10,000 embeddings × 50 classes: noisy copies of 50 random centres.
        let centres = (0..<50).map { _ in vector() }
        var features: [[Float]] = []
        var labels: [Int] = []
        for index in 0..<10_000 {
            let label = index % 50
            features.append(centres[label].map { $0 + Float.random(in: -0.6...0.6, using: &rng) })
            labels.append(label)
        }
        let trainStart = clock.now
        let (head, trained) = try SoftmaxRegression.train(
            features: features, labels: labels, classes: (0..<50).map { "c\($0)" })
        let trainSeconds = (clock.now - trainStart).seconds
        let best = trained.epochs.first { $0.epoch == trained.bestEpoch }
        print(
            String(
                format:
                    "train a head on 10000 embeddings × 50 classes (%d-d): %.2f s for %d epochs (%.2f s each; target < 10 s); validation accuracy %.1f%%",
                dimension, trainSeconds, trained.epochs.count, trainSeconds / Double(max(trained.epochs.count, 1)),
                (best?.validationAccuracy ?? 0) * 100))
        _ = head
    }
}
