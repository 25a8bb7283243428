public import Foundation

/// A sentence-embedding network (a BERT-style encoder such as paraphrase-MiniLM-L3-v2) run by
/// ONNX Runtime: text → WordPiece ids → the network's token vectors → their mean over the
/// real tokens (the models' "mean pooling") → unit length. Recent texts are remembered, so a
/// repeated query costs a dictionary look-up.
public final class SentenceEncoder: @unchecked Sendable {
    public let tokenizer: WordPieceTokenizer
    let session: InferenceSession
    let idsInput: String
    let maskInput: String
    let typesInput: String?
    let tokensOutput: String
    public let dimension: Int
    private let lock = NSLock()
    private var remembered: [String: [Float]] = [:]
    private var order: [String] = []
    static let rememberedLimit = 1024

    /// `model`: the ONNX file (inputs `input_ids`, `attention_mask`, optionally
    /// `token_type_ids`, all int64; an output of token vectors [batch, tokens, dimension]).
    public init(runtime: ONNXRuntime, model: URL, vocabulary: URL, threads: Int = 1) throws {
        tokenizer = try WordPieceTokenizer(vocabularyFile: vocabulary)
        session = try InferenceSession(
            runtime: runtime, path: model.path, threads: .init(intraOp: max(1, threads)), shapesVary: true)
        let names = Set(session.inputs.map(\.name))
        guard names.contains("input_ids"), names.contains("attention_mask") else {
            throw RuntimeError(
                operation: "loading \(model.lastPathComponent)",
                message: "a sentence model needs int64 inputs input_ids and attention_mask, not \(names.sorted())")
        }
        (idsInput, maskInput) = ("input_ids", "attention_mask")
        typesInput = names.contains("token_type_ids") ? "token_type_ids" : nil
        guard let tokens = session.outputs.first(where: { $0.elementType == .float && $0.shape.count == 3 }),
            let width = tokens.shape.last, width > 0
        else {
            throw RuntimeError(
                operation: "loading \(model.lastPathComponent)",
                message: "no float output of token vectors [batch, tokens, dimension]")
        }
        tokensOutput = tokens.name
        dimension = width
    }

    /// The unit-length embedding of `text`.
    public func embed(_ text: String) throws -> [Float] {
        lock.lock()
        if let known = remembered[text] {
            lock.unlock()
            return known
        }
        lock.unlock()
        let ids = tokenizer.ids(text)
        var integers: [String: (shape: [Int], values: [Int64])] = [
            idsInput: ([1, ids.count], ids), maskInput: ([1, ids.count], Array(repeating: 1, count: ids.count)),
        ]
        if let typesInput { integers[typesInput] = ([1, ids.count], Array(repeating: 0, count: ids.count)) }
        let output = try session.run([:], integers: integers, outputs: [tokensOutput])[tokensOutput]
        guard let output, output.shape.count == 3, output.shape[2] == dimension, output.shape[1] == ids.count else {
            throw RuntimeError(operation: "embedding text", message: "unexpected output shape \(output?.shape ?? [])")
        }
        var mean = [Float](repeating: 0, count: dimension)
        for token in 0..<ids.count {
            for index in 0..<dimension { mean[index] += output.values[token * dimension + index] }
        }
        let norm = mean.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        let unit = norm > 0 ? mean.map { $0 / norm } : mean
        lock.lock()
        if remembered[text] == nil {
            remembered[text] = unit
            order.append(text)
            if order.count > Self.rememberedLimit { remembered[order.removeFirst()] = nil }
        }
        lock.unlock()
        return unit
    }
}
