public import Foundation
public import IrisCore
public import IrisML
public import Logging

/// Where models come from and what runs on every upload.
public struct ModelSettings: Sendable {
    public var folder: URL
    public var runtimeLibrary: String
    /// Origins remote models may use (`models.remote_allow`).
    public var remoteAllow: RemoteAllowlist
    public var threads: Int
    /// Seconds a local model's session stays loaded without a run (`models.idle_unload`; 0: kept).
    public var idleUnload: Double
    /// Whether ONNX Runtime's threads busy-wait between pieces of work (`ml.spin_wait`).
    public var spinWait: Bool
    /// Models each new image is analysed with.
    public var autoModels: [String]
    /// The moderation score above which an image is flagged, unless its project says otherwise.
    public var moderationThreshold: Double
    /// The embedding model learners and trained heads learn over.
    public var learnerModel: String
    public var thresholds: IncrementalLearner.Thresholds
    public var consolidateInterval: Double
    /// WordNet's files (`search.wordnet_dir`): the hierarchy derived models push classes up.
    public var wordnet: URL

    public init(
        folder: URL = URL(fileURLWithPath: "models"),
        runtimeLibrary: String = "vendor/onnxruntime/libonnxruntime.so.1.32.0", threads: Int = 0,
        spinWait: Bool = false, remoteAllow: RemoteAllowlist = .none, idleUnload: Double = 300,
        autoModels: [String] = ["mobilenet-v2", "open-nsfw", "ppocr-v4"], moderationThreshold: Double = 0.8,
        learnerModel: String = "mobilenet-v2-wordnet",
        thresholds: IncrementalLearner.Thresholds = IncrementalLearner.Thresholds(), consolidateInterval: Double = 3600,
        wordnet: URL = URL(fileURLWithPath: "/usr/share/wordnet")
    ) {
        self.wordnet = wordnet
        self.learnerModel = learnerModel
        self.thresholds = thresholds
        self.consolidateInterval = consolidateInterval
        self.folder = folder.standardizedFileURL
        self.runtimeLibrary = runtimeLibrary
        self.threads = threads
        self.idleUnload = idleUnload
        self.spinWait = spinWait
        self.remoteAllow = remoteAllow
        self.autoModels = autoModels
        self.moderationThreshold = moderationThreshold
    }

    public init(_ reader: ConfigurationReader) throws {
        let threshold = try reader.double(.moderationThreshold, in: 0...1)
        self.init(
            folder: URL(fileURLWithPath: reader.string(.modelsDirectory)),
            runtimeLibrary: reader.string(.onnxRuntime),
            threads: try reader.int(.mlThreads, in: 0...256), spinWait: try IrisSettings.bool(reader, .mlSpinWait),
            remoteAllow: try Self.allowlist(reader.string(.remoteAllow)),
            idleUnload: try reader.double(.idleUnload, in: 0...604_800),
            autoModels: reader.string(.autoAnalysis).split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            }.filter { !$0.isEmpty },
            moderationThreshold: threshold, learnerModel: reader.string(.learnerModel),
            thresholds: IncrementalLearner.Thresholds(
                sigmas: try reader.double(.learnerSigmas, in: 0...20),
                prior: try reader.double(.learnerPrior, in: 0...2),
                override: reader.string(.learnerMaxDistance).isEmpty
                    ? nil : try reader.double(.learnerMaxDistance, in: 0...2)),
            consolidateInterval: try reader.double(.learnerConsolidateInterval, in: 10...604_800),
            wordnet: URL(fileURLWithPath: reader.string(.wordnetDirectory)))
    }

    public static func allowlist(_ text: String) throws -> RemoteAllowlist {
        do {
            return try RemoteAllowlist(
                text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        } catch {
            throw ConfigurationError(
                "setting \(ConfigurationKey.remoteAllow.name): \(error.message)",
                setting: ConfigurationKey.remoteAllow.name)
        }
    }

    /// How each ONNX Runtime session uses threads.
    public var sessionThreads: InferenceSession.Threads { .init(intraOp: threads, spinning: spinWait) }

    /// The hierarchies derived models may name: `wordnet`, the ImageNet classes under WordNet's
    /// nouns (read on a derived model's first use, shared with text search).
    public var hierarchies: [String: @Sendable () throws -> ClassHierarchy] {
        [
            "wordnet": { [wordnet, folder] in
                try SearchVocabulary.load(wordnet: wordnet, models: folder).classHierarchy()
            }
        ]
    }

    /// Loads the registry (once per process for the same settings): every manifest in the
    /// folder, each model ready or with the reason it is not. A missing folder gives an
    /// empty registry and a warning. A model released after `idleUnload` hands its memory
    /// back to the system (`malloc_trim`), or glibc would keep it for the process.
    public func registry(logger: Logger) -> ModelRegistry {
        do {
            return try ModelRegistry.load(
                folder: folder, runtimeLibrary: runtimeLibrary, threads: sessionThreads, allowlist: remoteAllow,
                idleUnload: idleUnload, afterUnload: { MallocTuning.trim() }, hierarchies: hierarchies,
                logger: logger)
        } catch {
            logger.warning(
                "no models: cannot read the models folder", metadata: ["folder": "\(folder.path)", "error": "\(error)"])
            return .empty
        }
    }
}
