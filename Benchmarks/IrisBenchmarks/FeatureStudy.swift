import Foundation
import IrisCore
import IrisImaging
import IrisML
public import IrisServices

/// The feature study (`iris learn feature-study`, `make bench`): which features a learner should
/// compare photos by. On each ImageFolder of labelled photos it runs `LearningQuality` for every
/// variant on the same seeded splits: the embeddings of each installed model that both
/// classifies and embeds, its class probabilities pushed up WordNet's noun hierarchy
/// (`ClassHierarchy`), the two combined at several weights and evenings-out, and both models'
/// embeddings with the hierarchy of their averaged probabilities. Reported per variant: the
/// nearest class right at k = 1, 5 and 10 with every class taught, and at k = 10 with a quarter of
/// the classes never taught, with the AUROC of telling those untaught photos apart.
public enum FeatureStudy {
    struct Photo {
        var label: String
        var embeddings: [String: [Float]]
        var probabilities: [String: [Float]]
        /// The same of the photo mirrored left to right.
        var mirrored: [String: (embedding: [Float], probabilities: [Float])] = [:]

        /// The model's embedding and probabilities averaged over the photo and its mirror image.
        func flipped(_ model: String) -> (embedding: [Float], probabilities: [Float]) {
            let own = (embedding: embeddings[model] ?? [], probabilities: probabilities[model] ?? [])
            guard let mirror = mirrored[model] else { return own }
            return (
                SemanticFeatures.combine([(FeatureStudy.mean([own.embedding, mirror.embedding]), 1)]),
                FeatureStudy.mean([own.probabilities, mirror.probabilities])
            )
        }
    }

    struct Variant {
        var name: String
        var feature: (Photo) -> [Float]
    }

    public static func run(_ settings: IrisSettings, folders: [String], trials: Int) async throws {
        let registry = settings.models.registry(logger: settings.makeLogger())
        let models = registry.available.filter {
            $0.manifest.tasks.contains(.embed) && $0.manifest.tasks.contains(.classify)
        }.sorted { $0.name < $1.name }
        guard !models.isEmpty else {
            throw Refusal.conflict("no model both classifies and embeds; run scripts/prepare-models.sh")
        }
        let vocabulary = try SearchVocabulary.load(wordnet: settings.wordnetDirectory, models: settings.models.folder)
        let hierarchy = vocabulary.classHierarchy()
        say(
            "feature study: \(models.map(\.name).joined(separator: ", ")); WordNet hierarchy of \(hierarchy.width) synsets over \(hierarchy.columns.count) classes; \(trials) seeded splits per figure"
        )
        let variants = self.variants(models.map(\.name), hierarchy: hierarchy)
        for folder in folders {
            let photos = try await embed(folder, models: models)
            let classes = Set(photos.map(\.label)).count
            say(
                "\n\(folder): \(photos.count) photos of \(classes) classes\n"
                    + "| features | nearest, all taught, k = 1 / 5 / 10 | \(classes - max(1, classes / 4)) taught, \(max(1, classes / 4)) never, k = 10: nearest / unknown AUROC (by the learner's ratio / by distance alone) |\n|---|---|---|"
            )
            for variant in variants {
                let data = photos.map { (label: $0.label, feature: variant.feature($0)) }
                var all = LearningQuality(data: data)
                all.trials = trials
                all.heldOutClasses = 0
                all.measureHead = false
                let taught = try all.run().rows
                var some = LearningQuality(data: data)
                some.trials = trials
                some.shots = [10]
                some.measureHead = false
                let held = try some.run().rows[0]
                let shots = taught.map { String(format: "%.3f", $0.nearest) }.joined(separator: " / ")
                say(
                    "| \(variant.name) | \(shots) | \(String(format: "%.3f / %.3f (%.3f)", held.nearest, held.unknownAUROC, held.distanceAUROC)) |"
                )
            }
        }
    }

    /// A line straight to the output, unbuffered: a row at a time while the study runs.
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// How a variant makes the hierarchy part: evened out by `transform`, and with `informative`
    /// each node weighted by its information content.
    struct Hierarchy {
        var transform: ClassHierarchy.Transform
        var informative: Bool
        var name: String { transform.rawValue + (informative ? " × information" : "") }
    }

    static func variants(_ models: [String], hierarchy: ClassHierarchy) -> [Variant] {
        func hier(_ probabilities: [Float]?, _ spec: Hierarchy) -> [Float] {
            hierarchy.features(probabilities ?? [], transform: spec.transform, informative: spec.informative)
        }
        let plain = Hierarchy(transform: .sqrt, informative: false)
        let informative = Hierarchy(transform: .sqrt, informative: true)
        var variants: [Variant] = []
        for model in models {
            variants.append(Variant(name: "\(model) embedding") { $0.embeddings[model] ?? [] })
            variants.append(Variant(name: "\(model) embedding, flip-averaged") { $0.flipped(model).embedding })
            for spec in [plain, informative] {
                variants.append(
                    Variant(name: "\(model) hierarchy (\(spec.name))") { hier($0.probabilities[model], spec) })
            }
            let combinations: [(Float, Hierarchy)] = [
                (1, plain), (0.7, plain), (1.4, plain), (1, Hierarchy(transform: .log, informative: false)),
                (1, informative), (1.4, informative), (2, informative),
            ]
            for (weight, spec) in combinations {
                variants.append(
                    Variant(name: "\(model) embedding + hierarchy (\(spec.name), weight \(weight))") {
                        SemanticFeatures.combine([
                            ($0.embeddings[model] ?? [], 1), (hier($0.probabilities[model], spec), weight),
                        ])
                    })
            }
            variants.append(
                Variant(name: "\(model) embedding + hierarchy (\(informative.name), weight 1.4), flip-averaged") {
                    let both = $0.flipped(model)
                    return SemanticFeatures.combine([(both.embedding, 1), (hier(both.probabilities, informative), 1.4)])
                })
        }
        guard models.count > 1 else { return variants }
        // Both extractors, and the hierarchy of their averaged probabilities.
        func averaged(_ photo: Photo) -> [Float] { mean(models.compactMap { photo.probabilities[$0] }) }
        for (weight, spec) in [(Float(1), plain), (1.4, plain), (1.4, informative), (2, informative)] {
            variants.append(
                Variant(name: "both embeddings + hierarchy of the mean (\(spec.name), weight \(weight))") { photo in
                    SemanticFeatures.combine(
                        models.map { (photo.embeddings[$0] ?? [], 1) } + [(hier(averaged(photo), spec), weight)])
                })
        }
        return variants
    }

    /// The element-wise mean of equally long vectors.
    static func mean(_ vectors: [[Float]]) -> [Float] {
        guard let first = vectors.first else { return [] }
        return first.indices.map { index in vectors.reduce(0) { $0 + $1[index] } / Float(vectors.count) }
    }

    /// Every photo of the folder (one sub-folder per class) through every model.
    static func embed(_ folder: String, models: [Model]) async throws -> [Photo] {
        let root = URL(fileURLWithPath: folder)
        var photos: [Photo] = []
        let classes = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted()
        for label in classes {
            let directory = root.appendingPathComponent(label)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for file in files.sorted() where !file.hasPrefix(".") {
                var photo = Photo(label: label, embeddings: [:], probabilities: [:])
                for model in models {
                    let pixels = try model.pixels(path: directory.appendingPathComponent(file).path)
                    let output = try await model.analyze(pixels)
                    photo.embeddings[model.name] = output.embedding
                    photo.probabilities[model.name] = output.probabilities
                    let mirror = try await model.analyze(mirrored(pixels))
                    if let embedding = mirror.embedding, let probabilities = mirror.probabilities {
                        photo.mirrored[model.name] = (embedding, probabilities)
                    }
                }
                if photo.embeddings.count == models.count { photos.append(photo) }
            }
        }
        return photos
    }

    /// The pixels mirrored left to right (a test-time augmentation: the photo's meaning is the same).
    static func mirrored(_ pixels: ModelPixels) -> ModelPixels {
        var rgb = pixels.rgb
        for y in 0..<pixels.height {
            for x in 0..<pixels.width {
                for channel in 0..<3 {
                    rgb[(y * pixels.width + x) * 3 + channel] =
                        pixels.rgb[(y * pixels.width + (pixels.width - 1 - x)) * 3 + channel]
                }
            }
        }
        return ModelPixels(
            width: pixels.width, height: pixels.height, rgb: rgb, sourceWidth: pixels.sourceWidth,
            sourceHeight: pixels.sourceHeight)
    }
}
