import Foundation
public import IrisImaging

/// How a model is run: a local ONNX session or a remote inference server.
protocol InferenceBackend: Sendable {
    /// Runs one sample of `shape` (no batch dimension) and returns the named outputs.
    func infer(_ sample: [Float], shape: [Int], input: String, outputs: [String]) async throws -> [String: Tensor]
}

extension Batcher: InferenceBackend {
    func infer(_ sample: [Float], shape: [Int], input: String, outputs: [String]) async throws -> [String: Tensor] {
        try await run(sample, shape: shape)
    }
}

/// A model ready to analyse images: its manifest, labels and backend.
public final class Model: Sendable {
    public let manifest: ModelManifest
    let preprocessor: Preprocessor
    let labels: [String]
    let backend: any InferenceBackend
    let textReader: TextReader?

    init(manifest: ModelManifest, labels: [String], backend: any InferenceBackend, textReader: TextReader?) {
        self.manifest = manifest
        self.preprocessor = Preprocessor(input: manifest.input)
        self.labels = labels
        self.backend = backend
        self.textReader = textReader
    }

    public var name: String { manifest.name }

    /// How many labels `classify` keeps.
    public static let topLabels = 5

    /// Decodes the image at `path` (blocking work runs off the caller's thread), runs the
    /// model and reads its outputs per task.
    public func analyze(path: String) async throws -> ModelOutput {
        let preprocessor = self.preprocessor
        let pixels = try await offload { try preprocessor.pixels(path: path) }
        return try await analyze(pixels)
    }

    /// Runs the model on pixels already prepared at the input size.
    public func analyze(_ pixels: ModelPixels) async throws -> ModelOutput {
        if let textReader { return ModelOutput(text: try await textReader.read(pixels)) }
        let (sample, shape) = tensor(pixels)
        let results = try await backend.infer(
            sample, shape: shape, input: manifest.input.name, outputs: manifest.outputNames)
        return try interpret(results)
    }

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
            }
            if manifest.tasks.contains(.moderate), let flag = manifest.flagLabel,
                let index = labels.firstIndex(of: flag)
            {
                result.moderation = Double(scores[index])
            }
        }
        if manifest.tasks.contains(.embed) {
            result.embedding = normalised(try output("embedding"))
        }
        return result
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
