import Foundation
import IrisBenchmarks
import IrisCore
import IrisML
import IrisServer
public import IrisServices

/// `iris models list` and `iris analyze`: the models on this machine, run locally.
public enum IrisModelCommands {
    /// Every manifest in the folder and every registered remote model (from the database),
    /// remote servers asked what they serve, with each model's tasks and whether it can be
    /// used; answers false (exit status 1) when any cannot.
    public static func list(_ settings: IrisSettings) async throws -> Bool {
        let logger = settings.makeLogger()
        let registry = settings.models.registry(logger: logger)
        try await IrisAccountCommands.withStore(settings) { store in
            try await registry.syncRegistered(from: store, logger: logger)
        }
        await registry.verifyRemote(logger: logger)
        print("models in \(registry.folder.path) (ONNX Runtime \(registry.runtimeVersion ?? "not loaded")):")
        let width = max(16, registry.entries.map(\.name.count).max() ?? 0)
        for entry in registry.entries {
            let tasks = entry.manifest?.tasks.map(\.rawValue).joined(separator: ",") ?? "?"
            let place =
                entry.manifest?.remote.map { "remote \($0.url)\(entry.registered ? ", registered" : "")" }
                ?? entry.manifest?.derived.map { "from \($0.from)" } ?? "local"
            let state = entry.problem.map { "UNAVAILABLE: \($0)" } ?? "ready" + (entry.note.map { " (\($0))" } ?? "")
            print(
                "  \(entry.name.padding(toLength: width, withPad: " ", startingAt: 0)) \(tasks.padding(toLength: 16, withPad: " ", startingAt: 0)) \(place): \(state)"
            )
        }
        if registry.entries.isEmpty { print("  (none)") }
        return registry.entries.allSatisfy(\.available)
    }

    /// `iris models register FILE`: registers the remote model a manifest file describes, as
    /// `POST /api/v1/models` does (same checks, kept in the database for every process).
    public static func register(_ settings: IrisSettings, manifestFile: String) async throws {
        let manifest: ModelManifest
        do {
            manifest = try JSONDecoder().decode(
                ModelManifest.self, from: Data(contentsOf: URL(fileURLWithPath: manifestFile)))
        } catch let error as DecodingError {
            throw CommandFailure(message: "\(manifestFile) is not a model manifest: \(ModelRegistry.describe(error))")
        }
        let logger = settings.makeLogger()
        let registry = settings.models.registry(logger: logger)
        try await IrisAccountCommands.withStore(settings) { store in
            try await registry.syncRegistered(from: store, logger: logger)
            let entry = try await registry.register(manifest, store: store, createdBy: nil)
            await IrisAccountCommands.record(store, .modelRegistered, subject: "model \(entry.name)")
            print(
                "Registered \(entry.name): \(entry.manifest?.remote?.model ?? "?") at \(entry.manifest?.remote?.url ?? "?"), ready."
            )
        }
    }

    /// `iris models remove NAME`: removes a registered remote model (its results stay).
    public static func remove(_ settings: IrisSettings, name: String) async throws {
        let logger = settings.makeLogger()
        let registry = settings.models.registry(logger: logger)
        try await IrisAccountCommands.withStore(settings) { store in
            try await registry.syncRegistered(from: store, logger: logger)
            try await registry.unregister(name, store: store)
            await IrisAccountCommands.record(store, .modelRemoved, subject: "model \(name)")
            print("Removed \(name).")
        }
    }

    /// Runs the named models on local files and prints what they say (JSON with `--json`).
    public static func analyze(_ settings: IrisSettings, files: [String], models names: [String], json: Bool)
        async throws -> Bool
    {
        let registry = settings.models.registry(logger: settings.makeLogger())
        let unknown = names.filter { registry.model($0) == nil }
        guard unknown.isEmpty else {
            throw Refusal.invalid(
                "unknown or unavailable models: \(unknown.joined(separator: ", ")); available: \(registry.available.map(\.name).joined(separator: ", "))"
            )
        }
        var allGood = true
        var report: [String: [String: ModelOutput]] = [:]
        for file in files {
            var outputs: [String: ModelOutput] = [:]
            for name in names {
                do {
                    var output = try await registry.model(name)!.analyze(path: file)
                    if json == false, let embedding = output.embedding { output.embedding = Array(embedding.prefix(4)) }
                    outputs[name] = output
                } catch {
                    allGood = false
                    FileHandle.standardError.write(Data("\(file): \(name): \(error)\n".utf8))
                }
            }
            report[file] = outputs
            guard !json else { continue }
            print(file)
            for name in names {
                guard let output = outputs[name] else { continue }
                printResult(
                    model: name, labels: output.labels,
                    embedding: output.embedding.map {
                        "\($0.map { String(format: "%.3f", $0) }.joined(separator: " ")) …"
                    },
                    moderation: output.moderation, text: output.text)
            }
        }
        if json { try printJSON(report) }
        return allGood
    }

    /// One model's result as `iris analyze` prints it, a line per fact.
    static func printResult(
        model: String, labels: [ScoredLabel]?, embedding: String?, moderation: Double?, text: [TextLine]?
    ) {
        for label in labels ?? [] {
            print("  \(model)  \(String(format: "%5.1f%%", label.score * 100))  \(label.label)")
        }
        if let embedding { print("  \(model)  embedding \(embedding)") }
        if let moderation { print("  \(model)  moderation \(String(format: "%.3f", moderation))") }
        for line in text ?? [] {
            print(
                "  \(model)  text \"\(line.text)\" at \(line.box.x),\(line.box.y) \(line.box.width)×\(line.box.height)")
        }
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// The inference benchmark (`make bench`): see `InferenceBenchmark`.
    public static func bench(_ settings: IrisSettings, files: [String], rounds: Int, concurrency: Int) async throws {
        try await InferenceBenchmark.run(settings: settings, files: files, rounds: rounds, concurrency: concurrency)
    }
}

extension IrisModelCommands {
    /// The feature study on ImageFolders of labelled photos (`make bench`): see `FeatureStudy`.
    public static func featureStudy(_ settings: IrisSettings, folders: [String], trials: Int) async throws {
        guard (1...1_000).contains(trials) else { throw Refusal.invalid("trials must be 1 to 1000", field: "trials") }
        try await FeatureStudy.run(settings, folders: folders, trials: trials)
    }

    /// The learner's quality study on an ImageFolder of labelled photos (`make bench`): see `LearningQuality`.
    public static func learningQuality(
        _ settings: IrisSettings, folder: String, model name: String?, json: Bool, fitCalibration: Bool = false
    ) async throws {
        let (model, data) = try await embedFolder(settings, folder: folder, model: name)
        var quality = LearningQuality(data: data)
        quality.rules = settings.models.thresholds
        quality.calibration = model.manifest.calibration ?? .standard
        if let temperature = ProcessInfo.processInfo.environment["IRIS_LEARNER_TEMPERATURE"].flatMap(Double.init) {
            quality.temperature = temperature
        }
        if fitCalibration {
            var fitting = quality
            fitting.seed = 2026
            var samples: [(ratio: Double, lead: Double, right: Bool)] = []
            _ = try fitting.run { samples.append(($0, $1, $2)) }
            let fitted = LearningQuality.fitCalibration(samples)
            print(
                String(
                    format:
                        "calibration fitted on %d answers, for the manifest: \"calibration\": {\"bias\": %.4f, \"ratio\": %.4f, \"lead\": %.4f}",
                    samples.count, fitted.bias, fitted.ratio, fitted.lead))
            return
        }
        let figures = try quality.run()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(figures), as: UTF8.self))
            return
        }
        func percent(_ value: Double) -> String { String(format: "%.1f%%", value * 100) }
        print(
            "learning quality: \(figures.classes) classes, \(figures.examples) photos, \(figures.trials) random splits with \(figures.heldOut) classes never taught, embeddings from \(model.name)"
        )
        for row in figures.rows {
            print(
                "  k = \(row.k): taught-class photos answered right \(percent(row.right)) (nearest class right \(percent(row.nearest)), unknown \(percent(row.unknownOnTaught)), of those nearest right \(percent(row.unknownOnRightNearest))); untaught-class photos answered unknown \(percent(row.unknownOnUntaught)); unknown AUROC \(String(format: "%.3f", row.unknownAUROC)); confidence \(percent(row.meanConfidence)) for \(percent(row.answeredRight)) right, calibration error \(String(format: "%.3f", row.calibrationError))"
            )
            print(
                "    coverage / accuracy of taught photos by threshold factor: "
                    + row.curve.map {
                        String(format: "×%g %.0f%% / %.0f%%", $0.factor, $0.coverage * 100, $0.accuracy * 100)
                    }.joined(separator: ", "))
        }
        print(
            "  trained head on the same 10-shot splits: \(percent(figures.headAccuracy)) (the learner's nearest class \(percent(figures.learnerAtTen)); majority class \(percent(figures.majorityBaseline)))"
        )
    }

    /// The learning benchmark (`make bench`): see `LearningBenchmark`.
    public static func learningBench(_ settings: IrisSettings, folder: String) async throws {
        try await LearningBenchmark.run(settings: settings, folder: folder)
    }

    /// The embeddings of an ImageFolder's photos (one sub-folder per class) by `name` (default:
    /// the learner's model), for the quality studies.
    static func embedFolder(_ settings: IrisSettings, folder: String, model name: String?) async throws -> (
        model: Model, data: [(label: String, feature: [Float])]
    ) {
        let registry = settings.models.registry(logger: settings.makeLogger())
        let wanted = name ?? settings.models.learnerModel
        guard let model = registry.model(wanted), model.manifest.embeds else {
            let embedders = registry.available.filter { $0.manifest.embeds }.map(\.name)
            throw Refusal.conflict(
                "no embedding model named \(wanted) is available (available: \(embedders.joined(separator: ", "))); run scripts/prepare-models.sh"
            )
        }
        var data: [(label: String, feature: [Float])] = []
        let root = URL(fileURLWithPath: folder)
        let classes = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted()
        for label in classes {
            let files =
                (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(label).path)) ?? []
            for file in files.sorted() where !file.hasPrefix(".") {
                guard
                    let embedding = try await model.analyze(
                        path: root.appendingPathComponent(label).appendingPathComponent(file).path
                    ).embedding
                else { continue }
                data.append((label, embedding))
            }
        }
        return (model, data)
    }

    /// The map benchmark (`make bench`): `MapLayout` on `points` synthetic embeddings (100
    /// clusters of 1,280-d Gaussian noise around random centres, L2-normalised), timed; then its
    /// neighbour preservation against 2-D PCA's on the photo set and on a 5,000-point sample of
    /// the synthetic set.
    public static func mapBench(_ settings: IrisSettings, folder: String, points: Int, model name: String?) async throws
    {
        var rng = SplitMix(seed: 2026)
        func gaussian() -> Float {
            let u = max(Double(rng.next() >> 11) / Double(1 << 53), 1e-12)
            let v = Double(rng.next() >> 11) / Double(1 << 53)
            return Float((-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * .pi * v))
        }
        let dimension = 1_280
        let centres = (0..<100).map { _ in (0..<dimension).map { _ in gaussian() } }
        let synthetic = (0..<points).map { index in
            LabelCheck.normalised(centres[index % centres.count].map { $0 + 0.8 * gaussian() })
        }
        let started = Date()
        let layout = try MapLayout.layout(synthetic)
        let seconds = Date().timeIntervalSince(started)
        print(
            String(
                format: "map layout: %d points × %d dimensions in %.1f s (%.0f points/s; target: 50,000 in under 60 s)",
                points, dimension, seconds, Double(points) / seconds))
        let sample = Array(synthetic.prefix(5_000))
        let sampleLayout = try MapLayout.layout(sample)
        let samplePCA = MapLayout.pca(sample, dimensions: 2, seed: 7).map { SIMD2<Float>($0[0], $0[1]) }
        print(
            String(
                format:
                    "  neighbour preservation (10 nearest in the layout among the 20 nearest in 1,280-d), synthetic 5,000: layout %.3f, PCA %.3f; whole %d-point layout %.3f",
                MapLayout.neighbourPreservation(original: sample, layout: sampleLayout),
                MapLayout.neighbourPreservation(original: sample, layout: samplePCA), points,
                MapLayout.neighbourPreservation(original: synthetic, layout: layout)))
        let (model, data) = try await embedFolder(settings, folder: folder, model: name)
        let features = data.map { LabelCheck.normalised($0.feature) }
        let photoLayout = try MapLayout.layout(features)
        let photoPCA = MapLayout.pca(features, dimensions: 2, seed: 7).map { SIMD2<Float>($0[0], $0[1]) }
        print(
            String(
                format: "  neighbour preservation, photo set (%d photos, %@): layout %.3f, PCA %.3f",
                features.count, model.name, MapLayout.neighbourPreservation(original: features, layout: photoLayout),
                MapLayout.neighbourPreservation(original: features, layout: photoPCA)))
    }

    /// The label-quality study (`make bench`): see `LabelQualityStudy`.
    public static func labelQuality(_ settings: IrisSettings, folder: String, model name: String?) async throws {
        let (model, data) = try await embedFolder(settings, folder: folder, model: name)
        let study = LabelQualityStudy(data: data)
        print(
            "label quality: \(Set(data.map(\.label)).count) classes, \(data.count) photos, embeddings from \(model.name)"
        )
        for row in try study.wrongLabels() {
            print(
                String(
                    format:
                        "  wrong labels, %.0f%% flipped (%d photos, %d seeds): precision in the top k %.3f, recall in the top 2k %.3f",
                    row.noise * 100, row.flipped, study.trials, row.precisionAtK, row.recallAt2K))
        }
        let curves = study.labelNext()
        func line(_ values: [Double]) -> String { values.map { String(format: "%.3f", $0) }.joined(separator: " ") }
        func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(values.count, 1)) }
        print(
            "  label next (\(study.curveTrials) seeds; accuracy on a held-out 30 % after each round of \(study.batch); labelled \(curves.labelled.map(String.init).joined(separator: " ")))"
        )
        print("    useful  \(line(curves.useful))  mean \(String(format: "%.3f", mean(curves.useful)))")
        print("    random  \(line(curves.random))  mean \(String(format: "%.3f", mean(curves.random)))")
        print("    margin  \(line(curves.margin))  mean \(String(format: "%.3f", mean(curves.margin)))")
        let worst = zip(curves.useful, curves.random).map { $0 - $1 }.min() ?? 0
        print(
            String(
                format: "    useful − random: mean %+.3f, worst round %+.3f", mean(curves.useful) - mean(curves.random),
                worst))
        let names = Array(Set(data.map(\.label))).sorted()
        if let curve = try LearningCurve.measure(
            features: study.data.map(\.feature), labels: data.map { names.firstIndex(of: $0.label) ?? 0 }, repeats: 50)
        {
            print(
                "  learning curve (nearest class mean on held-out photos per training photos per class; 50 seeds): "
                    + curve.map { String(format: "%d %.3f", $0.photos, $0.accuracy) }.joined(separator: ", ")
                    + "; levels off (within 2 points of the best) at \(LearningCurve.enough(curve) ?? 0)")
        }
    }
}
