import Foundation
public import IrisImaging

/// How a model is run: a local ONNX session or a remote inference server.
protocol InferenceBackend: Sendable {
    /// Runs one sample of `shape` (no batch dimension) and returns the named outputs.
    func infer(_ sample: [Float], shape: [Int], input: String, outputs: [String]) async throws -> [String: Tensor]
    /// Runs `work` (one caller's decoding and runs) when the backend has room for another caller.
    func admitted<T>(_ work: () async throws -> T) async rethrows -> T
}

extension InferenceBackend {
    func admitted<T>(_ work: () async throws -> T) async rethrows -> T { try await work() }
}

extension Batcher: InferenceBackend {
    func infer(_ sample: [Float], shape: [Int], input: String, outputs: [String]) async throws -> [String: Tensor] {
        try await run(sample, shape: shape)
    }
}

/// A model ready to analyse images: its manifest, labels and backend.
public final class Model: Sendable {
    public let manifest: ModelManifest

    /// A model repairs photos (an inpainting graph) or analyses them, never both: the one
    /// rule behind automatic analyses, analysis requests and repair methods.
    public var repairs: Bool { manifest.tasks.contains(.inpaint) }
    /// A text model (`embed-text`) neither analyses nor repairs photos: it embeds words.
    public var analyses: Bool { !repairs && textEncoder == nil }
    let preprocessor: Preprocessor
    let labels: [String]
    let backend: any InferenceBackend
    let textReader: TextReader?
    /// The graph itself, for inpaint models (two inputs: photo and mask).
    let session: OnDemandSession?
    /// Every local graph the model runs, each loaded on first use and released when idle.
    let graphs: [OnDemandSession]
    /// For a derived model (it shares its base model's backend): how its vector is made.
    let derivation: Derivation?
    /// For `embed-text` models: the tokenizer and graph that embed a text.
    public let textEncoder: CLIPTextEncoder?

    init(
        manifest: ModelManifest, labels: [String], backend: any InferenceBackend, textReader: TextReader?,
        session: OnDemandSession? = nil, graphs: [OnDemandSession] = [], textEncoder: CLIPTextEncoder? = nil,
        derivation: Derivation? = nil
    ) {
        self.textEncoder = textEncoder
        self.derivation = derivation
        self.manifest = manifest
        self.preprocessor = Preprocessor(input: manifest.input)
        self.labels = labels
        self.backend = backend
        self.textReader = textReader
        self.session = session
        self.graphs = graphs
    }

    /// How many of the model's local graphs are in memory now (0 for a remote model, and for
    /// a local one until its first use or after `models.idle_unload` seconds unused).
    public var loadedGraphs: Int { graphs.filter(\.isLoaded).count }

    /// Runs an inpaint model on RGB values (row by row, 0–255, at the input size) and a mask
    /// (1 = repair); answers the repaired RGB values on 0–255. Blocks while it runs.
    public func inpaint(rgb: [Float], mask: [Float]) throws -> [Float] {
        guard let session, let inpaint = manifest.inpaint, let output = manifest.outputs["image"] else {
            throw RuntimeError(operation: "inpaint", message: "\(manifest.name) is not an inpaint model")
        }
        let input = manifest.input
        let (width, height) = (input.width, input.height)
        let plane = width * height
        guard rgb.count == plane * 3, mask.count == plane else {
            throw RuntimeError(operation: "inpaint", message: "the photo and mask must be \(width)×\(height)")
        }
        // Colour order and normalisation as the manifest says, planes in NCHW order.
        let order = input.colors == .bgr ? [2, 1, 0] : [0, 1, 2]
        var image = [Float](repeating: 0, count: plane * 3)
        for channel in 0..<3 {
            let source = order[channel]
            let (scale, mean, std) = (input.scale, input.mean[channel], input.std[channel])
            for pixel in 0..<plane {
                image[channel * plane + pixel] = (rgb[pixel * 3 + source] / scale - mean) / std
            }
        }
        let results = try session.withSession { session in
            try session.run(
                [
                    input.name: Tensor(shape: [1, 3, height, width], values: image),
                    inpaint.maskInput: Tensor(shape: [1, 1, height, width], values: mask),
                ], outputs: [output])
        }
        guard let result = results[output], result.values.count == plane * 3 else {
            throw RuntimeError(operation: "inpaint", message: "\(manifest.name) answered no \(width)×\(height) image")
        }
        let factor = inpaint.outputScale ?? 255
        var repaired = [Float](repeating: 0, count: plane * 3)
        for channel in 0..<3 {
            for pixel in 0..<plane {
                repaired[pixel * 3 + order[channel]] = result.values[channel * plane + pixel] * factor
            }
        }
        return repaired
    }

    public var name: String { manifest.name }

    /// How many labels `classify` keeps.
    public static let topLabels = 5

    /// Decodes the image at `path` (blocking work runs off the caller's thread), runs the
    /// model and reads its outputs per task. Callers past the backend's bound wait before
    /// decoding (`Batcher.admitted`).
    public func analyze(path: String) async throws -> ModelOutput {
        let preprocessor = self.preprocessor
        return try await backend.admitted {
            let pixels = try await offload { try preprocessor.pixels(path: path) }
            return try await run(pixels)
        }
    }

    /// Runs the model on pixels already prepared at the input size.
    public func analyze(_ pixels: ModelPixels) async throws -> ModelOutput {
        try await backend.admitted { try await run(pixels) }
    }

    private func run(_ pixels: ModelPixels) async throws -> ModelOutput {
        if let textReader { return ModelOutput(text: try await textReader.read(pixels)) }
        let (sample, shape) = tensor(pixels)
        let results = try await backend.infer(
            sample, shape: shape, input: manifest.input.name, outputs: manifest.outputNames)
        return try interpret(results)
    }

    /// What one image gives over the Open Inference Protocol: the graph's named outputs (batch
    /// dimension 1) and what they mean, for an image file (decoded and prepared as `analyze`
    /// does) or a sample the caller prepared (`shape` without the batch dimension).
    public func served(path: String) async throws -> (tensors: [String: Tensor], output: ModelOutput) {
        let preprocessor = self.preprocessor
        return try await backend.admitted {
            let pixels = try await offload { try preprocessor.pixels(path: path) }
            let (sample, shape) = tensor(pixels)
            return try await served(sample, shape: shape)
        }
    }

    public func served(sample: [Float], shape: [Int]) async throws -> (tensors: [String: Tensor], output: ModelOutput) {
        try await backend.admitted { try await served(sample, shape: shape) }
    }

    private func served(_ sample: [Float], shape: [Int]) async throws -> (
        tensors: [String: Tensor], output: ModelOutput
    ) {
        let results = try await backend.infer(
            sample, shape: shape, input: manifest.input.name, outputs: manifest.outputNames)
        return (results, try interpret(results))
    }

    /// The labels its scores are over, in the scores' order (empty for models that classify nothing).
    public var labelNames: [String] { labels }

    /// The input sample and its shape for pixels at the model's input size.
    public func tensor(_ pixels: ModelPixels) -> (values: [Float], shape: [Int]) {
        (preprocessor.values(pixels), preprocessor.sampleShape(width: pixels.width, height: pixels.height))
    }

    public func pixels(path: String) throws -> ModelPixels { try preprocessor.pixels(path: path) }

    func interpret(_ results: [String: Tensor]) throws -> ModelOutput {
        func output(_ role: String) throws -> [Float] {
            guard let name = manifest.outputs[role], let tensor = results[name] else {
                throw RuntimeError(operation: "reading \(manifest.name)", message: "no output for \(role)")
            }
            return tensor.values
        }
        if let derivation {
            var scores = try output("scores")
            if manifest.activation == .softmax { scores = softmax(scores) }
            let embedding = normalised(try output("embedding"))
            return ModelOutput(embedding: try derivation.features(embedding: embedding, probabilities: scores))
        }
        var result = ModelOutput()
        if manifest.tasks.contains(.classify) || manifest.tasks.contains(.moderate) {
            var scores = try output("scores")
            if manifest.activation == .softmax { scores = softmax(scores) }
            guard scores.count == labels.count else {
                throw RuntimeError(
                    operation: "reading \(manifest.name)", message: "\(scores.count) scores for \(labels.count) labels")
            }
            if manifest.tasks.contains(.classify) {
                let top = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(Self.topLabels)
                result.labels = top.map { ScoredLabel(label: labels[$0], score: Double(scores[$0])) }
                result.probabilities = scores
            }
            if manifest.tasks.contains(.moderate), let flag = manifest.flagLabel,
                let index = labels.firstIndex(of: flag)
            {
                result.moderation = Double(scores[index])
            }
        }
        if manifest.embeds {
            result.embedding = normalised(try output("embedding"))
        }
        return result
    }
}

/// The backend of an inpaint model: it repairs photos and analyses none.
struct RepairsOnly: InferenceBackend {
    let model: String

    func infer(_ sample: [Float], shape: [Int], input: String, outputs: [String]) async throws -> [String: Tensor] {
        throw RuntimeError(operation: "analyze", message: "\(model) repairs photos; it does not analyse them")
    }
}

func softmax(_ values: [Float]) -> [Float] {
    guard let top = values.max() else { return values }
    let exps = values.map { Foundation.exp($0 - top) }
    let sum = exps.reduce(0, +)
    return exps.map { $0 / sum }
}

func normalised(_ values: [Float]) -> [Float] {
    let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return norm > 0 ? values.map { $0 / norm } : values
}

/// Runs blocking work (decoding, inference set-up) on a global queue, not on the caller's.
func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
