public import Foundation
public import Logging
import NIOConcurrencyHelpers

/// Every model Iris knows: those in the models folder and remote models registered over the
/// API; those ready to run, and those that cannot be used with the reason (a missing file, a
/// manifest that does not match its graph or server), found at start rather than at first use.
/// Shared by every server and worker of a process; registering and removing remote models
/// change it in place.
public final class ModelRegistry: Sendable {
    public struct Entry: Sendable {
        public let name: String
        public let manifest: ModelManifest?
        /// Set when the model cannot be used.
        public let problem: String?
        /// Something worth knowing that does not stop the model (a remote server that did not
        /// answer when it was last checked).
        public var note: String?
        /// Registered over the API (kept in the database) rather than read from the folder.
        public var registered: Bool = false
        public var available: Bool { problem == nil }
    }

    public let folder: URL
    /// The runtime's version, or nil when it could not be loaded.
    public let runtimeVersion: String?
    /// The origins remote models may use.
    public let allowlist: RemoteAllowlist
    let state: NIOLockedValueBox<(entries: [Entry], models: [String: Model])>

    public init(
        folder: URL, entries: [Entry], models: [String: Model], runtimeVersion: String?,
        allowlist: RemoteAllowlist = .none
    ) {
        self.folder = folder
        self.runtimeVersion = runtimeVersion
        self.allowlist = allowlist
        state = NIOLockedValueBox((entries, models))
    }

    /// No models at all (a server started without a models folder).
    public static var empty: ModelRegistry {
        ModelRegistry(folder: URL(fileURLWithPath: "/nonexistent"), entries: [], models: [:], runtimeVersion: nil)
    }

    public var entries: [Entry] { state.withLockedValue { $0.entries } }
    public func model(_ name: String) -> Model? { state.withLockedValue { $0.models[name] } }
    public var available: [Model] {
        state.withLockedValue { state in state.entries.compactMap { state.models[$0.name] } }
    }

    /// Reads every `*.json` manifest in `folder` and checks its graph against it; then the
    /// derived models over those (`hierarchies` by the name their manifests give). Problems are
    /// kept per model; only a folder that cannot be read at all throws. No graph stays in
    /// memory: each is loaded by its first run and released after `idleUnload` seconds without
    /// one (nil or 0: kept once loaded), then `afterUnload` is called.
    public static func load(
        folder: URL, runtimeLibrary: String, threads: InferenceSession.Threads, allowlist: RemoteAllowlist = .none,
        idleUnload: TimeInterval? = nil, afterUnload: @escaping @Sendable () -> Void = {},
        hierarchies: [String: @Sendable () throws -> ClassHierarchy] = [:], logger: Logger
    ) throws -> ModelRegistry {
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        var runtime: Result<ONNXRuntime, any Error>?
        func loadRuntime() throws -> ONNXRuntime {
            if runtime == nil { runtime = Result { try ONNXRuntime.load(from: runtimeLibrary) } }
            return try runtime!.get()
        }
        var entries: [Entry] = []
        var models: [String: Model] = [:]
        var derived: [URL] = []
        for file in files {
            if let probe = try? JSONDecoder().decode(DerivedManifestFile.Probe.self, from: Data(contentsOf: file)),
                probe.derived != nil
            {
                derived.append(file)
                continue
            }
            let fallbackName = file.deletingPathExtension().lastPathComponent
            var manifest: ModelManifest?
            do {
                let decoded = try JSONDecoder().decode(ModelManifest.self, from: Data(contentsOf: file))
                manifest = decoded
                try decoded.validate()
                guard models[decoded.name] == nil else {
                    throw ManifestError(model: decoded.name, message: "a second manifest uses this name")
                }
                let model = try ModelLoader(
                    folder: folder, manifest: decoded, threads: threads, allowlist: allowlist, runtime: loadRuntime,
                    idleUnload: idleUnload, afterUnload: afterUnload, logger: logger
                ).load()
                models[decoded.name] = model
                entries.append(Entry(name: decoded.name, manifest: decoded, problem: nil))
                logger.info(
                    "model ready", metadata: ["model": "\(decoded.name)", "tasks": "\(decoded.tasks.map(\.rawValue))"])
            } catch {
                let name = manifest?.name ?? fallbackName
                let message = Self.message(error, file: file)
                entries.append(Entry(name: name, manifest: manifest, problem: message))
                logger.error("model unavailable", metadata: ["model": "\(name)", "problem": "\(message)"])
            }
        }
        pairUp(&entries, &models, logger: logger)
        loadDerived(derived, models: &models, entries: &entries, hierarchies: hierarchies, logger: logger)
        let version = (try? runtime?.get())?.version
        return ModelRegistry(
            folder: folder, entries: entries, models: models, runtimeVersion: version, allowlist: allowlist)
    }

    static func message(_ error: any Error, file: URL) -> String {
        switch error {
        case let error as ManifestError: error.message
        case let error as RuntimeError: error.description
        case let error as DecodingError: "\(file.lastPathComponent) is not a valid manifest: \(describe(error))"
        default: "\(error)"
        }
    }

    public static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            "missing \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        @unknown default: "\(error)"
        }
    }
}

/// Checks one manifest's graphs against what the manifest says and makes its model, whose
/// graphs load on first use.
struct ModelLoader {
    let folder: URL
    let manifest: ModelManifest
    let threads: InferenceSession.Threads
    var allowlist: RemoteAllowlist = .none
    let runtime: () throws -> ONNXRuntime
    var idleUnload: TimeInterval?
    var afterUnload: @Sendable () -> Void = {}
    var logger = Logger(label: "iris.models")

    func fail(_ message: String) -> ManifestError { ManifestError(model: manifest.name, message: message) }

    func file(_ name: String) throws -> String {
        let path = folder.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw fail("\(name) is missing from \(folder.path); run scripts/prepare-models.sh, or remove the manifest")
        }
        return path
    }

    func lines(_ name: String) throws -> [String] {
        let text = try String(contentsOfFile: try file(name), encoding: .utf8)
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    func labelList() throws -> [String] {
        switch manifest.labels {
        case .file(let name): try lines(name)
        case .list(let labels): labels
        case nil: []
        }
    }

    func load() throws -> Model {
        if let remote = manifest.remote {
            let base = try allowlist.check(remote, model: manifest.name)
            return Model(
                manifest: manifest, labels: try labelList(),
                backend: OpenInferenceClient(base: base, remote: remote, manifest: manifest),
                textReader: nil)
        }
        if manifest.tasks.contains(.embedText) { return try loadText() }
        let labels = try labelList()
        let graph = try onDemand(manifest.file!, shapesVary: manifest.input.resize == .fit)
        // The checks read a session made for them alone and released when `load` returns: a
        // broken graph is still found at start, and no graph stays in memory until it is used.
        let session = try graph.make()
        let maxBatch = try check(session, input: manifest.input)
        for (role, name) in manifest.outputs where !session.outputs.contains(where: { $0.name == name }) {
            throw fail(
                "outputs.\(role) names \(name), which the graph does not have (it has \(session.outputs.map(\.name).joined(separator: ", ")))"
            )
        }
        if let scores = manifest.outputs["scores"], let spec = session.outputs.first(where: { $0.name == scores }),
            let classes = spec.shape.last, classes > 0, classes != labels.count
        {
            throw fail(
                "the graph scores \(classes) classes but \(manifest.labels?.description ?? "the labels file") lists \(labels.count)"
            )
        }
        if let inpaint = manifest.inpaint {
            guard let mask = session.inputs.first(where: { $0.name == inpaint.maskInput }) else {
                throw fail(
                    "inpaint.mask_input names \(inpaint.maskInput), which the graph does not have (it has \(session.inputs.map(\.name).joined(separator: ", ")))"
                )
            }
            guard mask.elementType == .float, mask.shape.count == 4, mask.shape[1] <= 0 || mask.shape[1] == 1 else {
                throw fail("the mask input \(inpaint.maskInput) must be float N × 1 × H × W")
            }
            return Model(
                manifest: manifest, labels: [], backend: RepairsOnly(model: manifest.name), textReader: nil,
                session: graph, graphs: [graph])
        }
        let batcher = Batcher(
            session: graph, input: manifest.input.name, outputs: manifest.outputNames, maxBatch: maxBatch,
            label: manifest.name)
        var reader: TextReader?
        var graphs = [graph]
        if let recognizer = manifest.recognizer {
            let recognizerGraph = try onDemand(recognizer.file, shapesVary: true)
            let recognizerSession = try recognizerGraph.make()
            guard recognizerSession.inputs.contains(where: { $0.name == recognizer.input }),
                recognizerSession.outputs.contains(where: { $0.name == recognizer.output })
            else {
                throw fail(
                    "the recogniser graph does not have input \(recognizer.input) and output \(recognizer.output)")
            }
            graphs.append(recognizerGraph)
            reader = TextReader(
                detector: batcher, detectorInput: manifest.input, detectorOutput: manifest.outputs["probabilities"]!,
                recognizer: Batcher(
                    session: recognizerGraph, input: recognizer.input, outputs: [recognizer.output], maxBatch: 1,
                    label: manifest.name + ".recognizer"),
                recognizerManifest: recognizer, keys: try lines(recognizer.keys))
        }
        return Model(manifest: manifest, labels: labels, backend: batcher, textReader: reader, graphs: graphs)
    }

    /// The graph in file `name`, loaded when a run needs it.
    func onDemand(_ name: String, shapesVary: Bool) throws -> OnDemandSession {
        OnDemandSession(
            runtime: try runtime(), path: try file(name), threads: threads, shapesVary: shapesVary,
            idleUnload: idleUnload, afterUnload: afterUnload, logger: logger)
    }

    /// Checks the graph's input against the manifest; answers the batch size to use.
    func check(_ session: InferenceSession, input: ModelManifest.Input) throws -> Int {
        guard let spec = session.inputs.first(where: { $0.name == input.name }) else {
            throw fail(
                "input \(input.name) is not in the graph (it has \(session.inputs.map(\.name).joined(separator: ", ")))"
            )
        }
        guard spec.elementType == .float else {
            throw fail("input \(input.name) takes \(spec.elementType.rawValue), not float")
        }
        guard spec.shape.count == 4 else {
            throw fail("input \(input.name) has \(spec.shape.count) dimensions, not 4 (\(input.layout.rawValue))")
        }
        let (channels, height, width) =
            input.layout == .nchw
            ? (spec.shape[1], spec.shape[2], spec.shape[3]) : (spec.shape[3], spec.shape[1], spec.shape[2])
        func agrees(_ graph: Int, _ wanted: Int) -> Bool { graph <= 0 || graph == wanted }
        guard agrees(channels, 3) else {
            throw fail("input \(input.name) has \(channels) channels in \(input.layout.rawValue) order, not 3")
        }
        if input.resize != .fit {
            guard agrees(height, input.height), agrees(width, input.width) else {
                throw fail(
                    "the graph takes \(width)×\(height) images but the manifest says \(input.width)×\(input.height)")
            }
        }
        // A fixed batch dimension takes one image a run.
        return spec.shape[0] > 0 ? 1 : (input.maxBatch ?? 1)
    }
}
