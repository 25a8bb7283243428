public import Foundation
public import IrisML
public import IrisServices
public import Logging
import Synchronization

/// The real models and ONNX Runtime that `scripts/prepare-models.sh` (run by `make test`)
/// fetched from PyPI, and the sample photographs it took from scikit-image's wheel.
public enum TestModels {
    /// The package's root folder.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    public static let folder = root.appendingPathComponent("models")
    public static let runtimeLibrary = root.appendingPathComponent("vendor/onnxruntime/libonnxruntime.so.1.32.0").path

    /// A sample photograph: chelsea.png (a tabby cat), coffee.png (a cup of coffee),
    /// rocket.jpg, astronaut.png, motorcycle_left.png, horse.png (a silhouette).
    public static func photo(_ name: String) -> URL {
        root.appendingPathComponent(".cache/photos").appendingPathComponent(name)
    }

    /// One crop of the learner's evaluation set (`scripts/models/evalset.py`): `index` 0–29 of
    /// brick, grass, gravel, coins, galaxies, tissue, retina, coffee, cat, astronaut, rocket, motorcycle.
    public static func evalPhoto(_ label: String, _ index: Int) throws -> Data {
        try Data(
            contentsOf: root.appendingPathComponent(".cache/evalset/\(label)/\(String(format: "%02d", index)).jpg"))
    }

    public static func runtime() throws -> ONNXRuntime {
        try ONNXRuntime.load(from: runtimeLibrary)
    }

    /// The hierarchies the bundled derived models push classes up (WordNet from the system).
    public static var hierarchies: [String: @Sendable () throws -> ClassHierarchy] {
        ModelSettings(folder: folder).hierarchies
    }

    /// The bundled models, loaded once for all tests of a process.
    public static func registry() throws -> ModelRegistry {
        try shared.get()
    }

    /// One registry per distinct model settings, shared by every test server of the process
    /// (loading the graphs is the slow part of starting one).
    public static func registry(for settings: ModelSettings, logger: Logger) -> ModelRegistry {
        let key =
            "\(settings.folder.standardizedFileURL.path)|\(settings.runtimeLibrary)|\(settings.sessionThreads.intraOp)|\(settings.sessionThreads.interOp)|\(settings.sessionThreads.spinning)|\(settings.remoteAllow.origins.sorted())|\(settings.wordnet.path)|\(settings.idleUnload)"
        return registries.withLock { cache in
            if let registry = cache[key] { return registry }
            let registry = settings.registry(logger: logger)
            cache[key] = registry
            return registry
        }
    }

    private static let registries = Mutex<[String: ModelRegistry]>([:])

    private static let shared: Result<ModelRegistry, any Error> = Result {
        try ModelRegistry.load(
            folder: folder, runtimeLibrary: runtimeLibrary, threads: .init(intraOp: 2),
            hierarchies: hierarchies, logger: Logger(label: "iris.tests.models"))
    }
}
