import Foundation

/// The text side of a vision–language pair (an OpenCLIP export's text tower) run by ONNX
/// Runtime: text → CLIP's token ids (start, pieces, end, zeros; `contextLength` of them) →
/// the graph's text embedding → unit length. Recent texts are remembered, so a repeated query
/// or class name costs a dictionary look-up.
public final class CLIPTextEncoder: @unchecked Sendable {
    public let tokenizer: CLIPTokenizer
    let session: InferenceSession
    let input: String
    let output: String
    /// The embedding's length, when the graph says (0 when its output's last dimension is free).
    public let dimension: Int
    private let lock = NSLock()
    private var remembered: [String: [Float]] = [:]
    private var order: [String] = []
    static let rememberedLimit = 4096

    /// `session`'s `input` takes int64 ids, batch × context length; its `output` answers one
    /// float vector per text, batch × dimension.
    init(session: InferenceSession, tokenizer: CLIPTokenizer, input: String, output: String) throws {
        func fail(_ message: String) -> RuntimeError {
            RuntimeError(operation: "loading the text model", message: message)
        }
        guard let spec = session.inputs.first(where: { $0.name == input }) else {
            throw fail(
                "text.input names \(input), which the graph does not have (it has \(session.inputs.map(\.name).joined(separator: ", ")))"
            )
        }
        guard spec.elementType == .int64, spec.shape.count == 2 else {
            throw fail("input \(input) must be int64 token ids, batch × context length")
        }
        guard spec.shape[1] <= 0 || spec.shape[1] == tokenizer.contextLength else {
            throw fail(
                "the graph reads \(spec.shape[1]) token ids but text.context_length says \(tokenizer.contextLength)")
        }
        guard let out = session.outputs.first(where: { $0.name == output }) else {
            throw fail(
                "outputs.embedding names \(output), which the graph does not have (it has \(session.outputs.map(\.name).joined(separator: ", ")))"
            )
        }
        guard out.elementType == .float, out.shape.count == 2 else {
            throw fail(
                "output \(output) must be float, one vector per text (batch × dimension), not \(out.shape.count) dimensions"
            )
        }
        (self.session, self.tokenizer, self.input, self.output) = (session, tokenizer, input, output)
        dimension = max(0, out.shape[1])
    }

    /// The unit-length embedding of `text`.
    public func embed(_ text: String) throws -> [Float] {
        try embed([text])[0]
    }

    /// The unit-length embeddings of `texts`, in order; those not remembered run as one batch.
    public func embed(_ texts: [String]) throws -> [[Float]] {
        var found = [[Float]?](repeating: nil, count: texts.count)
        lock.lock()
        for (index, text) in texts.enumerated() { found[index] = remembered[text] }
        lock.unlock()
        let missing = Array(Set(texts.indices.filter { found[$0] == nil }.map { texts[$0] })).sorted()
        // 64 texts a run keeps the graph's working memory small (77 tokens each).
        for start in stride(from: 0, to: missing.count, by: 64) {
            let batch = Array(missing[start..<min(start + 64, missing.count)])
            let ids = batch.flatMap { tokenizer.ids($0) }
            let result = try session.run(
                [:], integers: [input: ([batch.count, tokenizer.contextLength], ids)], outputs: [output])[output]
            guard let result, result.shape.count == 2, result.shape[0] == batch.count, result.shape[1] > 0 else {
                throw RuntimeError(
                    operation: "embedding text", message: "unexpected output shape \(result?.shape ?? [])")
            }
            let width = result.shape[1]
            lock.lock()
            for (row, text) in batch.enumerated() {
                let vector = normalised(Array(result.values[(row * width)..<((row + 1) * width)]))
                if remembered[text] == nil {
                    remembered[text] = vector
                    order.append(text)
                    if order.count > Self.rememberedLimit { remembered[order.removeFirst()] = nil }
                }
                for index in texts.indices where texts[index] == text { found[index] = vector }
            }
            lock.unlock()
        }
        return found.map { $0 ?? [] }
    }
}
