import Foundation
import Logging
import NIOConcurrencyHelpers

extension ModelManifest {
    /// A feature model with no graph of its own: another model's embedding beside that model's
    /// class probabilities pushed up a class hierarchy (`ClassHierarchy`), each part a unit
    /// vector, the hierarchy part weighted. It runs (and is stored) as an `embed` model; the
    /// analysis that runs its base model makes its vector too, without a second inference.
    public struct Derived: Sendable, Codable, Equatable {
        /// The model it is made from: one that classifies and embeds.
        public var from: String
        /// The hierarchy its base model's classes are pushed up: `wordnet` (the ImageNet
        /// classes under WordNet's nouns).
        public var hierarchy: String
        public var transform: ClassHierarchy.Transform
        /// The hierarchy part's weight, the embedding's being 1.
        public var weight: Float

        public init(from: String, hierarchy: String, transform: ClassHierarchy.Transform, weight: Float) {
            self.from = from
            self.hierarchy = hierarchy
            self.transform = transform
            self.weight = weight
        }
    }
}

/// A derived model's manifest file: no graph, input or outputs of its own (those are its base
/// model's), only what it is called, how it is made and what was measured for it.
struct DerivedManifestFile: Decodable {
    var name: String
    var description: String?
    var tasks: [ModelTask]
    var derived: ModelManifest.Derived
    var calibration: IncrementalLearner.Calibration?
    var similarAbove: Double?
    var license: String?
    var source: String?

    enum CodingKeys: String, CodingKey {
        case name, description, tasks, derived, calibration, license, source
        case similarAbove = "similar_above"
    }

    /// Whether a manifest file's JSON describes a derived model.
    struct Probe: Decodable { var derived: ModelManifest.Derived? }

    /// The whole manifest: the base model's graph and input under this name, embedding only.
    func manifest(over base: ModelManifest) throws -> ModelManifest {
        func fail(_ message: String) -> ManifestError { ManifestError(model: name, message: message) }
        guard tasks == [.embed] else { throw fail("a derived model only embeds: tasks must be [\"embed\"]") }
        guard base.tasks.contains(.classify), base.tasks.contains(.embed) else {
            throw fail("derived.from must name a model that classifies and embeds; \(base.name) does not")
        }
        guard derived.weight.isFinite, (0...10).contains(derived.weight) else {
            throw fail("derived.weight must be from 0 to 10")
        }
        var manifest = base
        manifest.name = name
        manifest.description = description
        manifest.tasks = tasks
        manifest.derived = derived
        manifest.calibration = calibration
        manifest.similarAbove = similarAbove
        manifest.license = license
        manifest.source = source
        manifest.flagLabel = nil
        try manifest.validate()
        return manifest
    }
}

/// How a derived model makes its vector. The hierarchy is made on first use (reading WordNet
/// takes about a second), once, and checked against the base model's labels then.
final class Derivation: Sendable {
    let spec: ModelManifest.Derived
    let model: String
    let classes: Int
    let make: @Sendable () throws -> ClassHierarchy
    let made = NIOLockedValueBox<ClassHierarchy?>(nil)

    init(
        spec: ModelManifest.Derived, model: String, classes: Int, make: @escaping @Sendable () throws -> ClassHierarchy
    ) {
        self.spec = spec
        self.model = model
        self.classes = classes
        self.make = make
    }

    func hierarchy() throws -> ClassHierarchy {
        try made.withLockedValue { made in
            if let made { return made }
            let hierarchy = try make()
            guard hierarchy.columns.count == classes else {
                throw RuntimeError(
                    operation: "preparing \(model)",
                    message:
                        "the \(spec.hierarchy) hierarchy has \(hierarchy.columns.count) classes but \(spec.from) has \(classes) labels"
                )
            }
            made = hierarchy
            return hierarchy
        }
    }

    /// The feature vector of a photo from its base model's embedding and class probabilities.
    func features(embedding: [Float], probabilities: [Float]) throws -> [Float] {
        let semantic = try hierarchy().features(probabilities, transform: spec.transform)
        return SemanticFeatures.combine([(embedding, 1), (semantic, spec.weight)])
    }
}

extension Model {
    /// The class hierarchy a derived model's vector ends with (its last `width` values), made
    /// on first use; nil for a model that is not derived.
    public func semanticHierarchy() throws -> ClassHierarchy? { try derivation?.hierarchy() }

    /// This derived model's vector from its base model's output (as the analysis that ran the
    /// base model has it); nil when this model is not derived or the output lacks a part.
    public func derive(from base: ModelOutput) throws -> [Float]? {
        guard let derivation, let embedding = base.embedding, let probabilities = base.probabilities else { return nil }
        return try derivation.features(embedding: embedding, probabilities: probabilities)
    }
}

extension ModelRegistry {
    /// The derived models made from `name`'s outputs.
    public func derived(from name: String) -> [Model] {
        available.filter { $0.manifest.derived?.from == name }
    }

    /// Makes the derived models among `files` over the models already loaded; each unusable
    /// one becomes an entry with its problem.
    static func loadDerived(
        _ files: [URL], models: inout [String: Model], entries: inout [Entry],
        hierarchies: [String: @Sendable () throws -> ClassHierarchy], logger: Logger
    ) {
        for file in files {
            var name = file.deletingPathExtension().lastPathComponent
            do {
                let decoded = try JSONDecoder().decode(DerivedManifestFile.self, from: Data(contentsOf: file))
                name = decoded.name
                func fail(_ message: String) -> ManifestError { ManifestError(model: decoded.name, message: message) }
                guard models[decoded.name] == nil else { throw fail("a second manifest uses this name") }
                guard let base = models[decoded.derived.from] else {
                    throw fail("derived.from names \(decoded.derived.from), which is not a model ready here")
                }
                guard let make = hierarchies[decoded.derived.hierarchy] else {
                    throw fail(
                        "derived.hierarchy \(decoded.derived.hierarchy) is not one Iris knows (\(hierarchies.keys.sorted().joined(separator: ", ")))"
                    )
                }
                let manifest = try decoded.manifest(over: base.manifest)
                models[manifest.name] = Model(
                    manifest: manifest, labels: base.labels, backend: base.backend, textReader: nil,
                    graphs: base.graphs,
                    derivation: Derivation(
                        spec: decoded.derived, model: manifest.name, classes: base.labels.count, make: make))
                entries.append(Entry(name: manifest.name, manifest: manifest, problem: nil))
                logger.info("model ready", metadata: ["model": "\(manifest.name)", "derived from": "\(base.name)"])
            } catch {
                let message = Self.message(error, file: file)
                entries.append(Entry(name: name, manifest: nil, problem: message))
                logger.error("model unavailable", metadata: ["model": "\(name)", "problem": "\(message)"])
            }
        }
    }
}
