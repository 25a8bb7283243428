import Foundation
import IrisML
import IrisTesting
import Testing

/// The Swift WordPiece tokenizer makes exactly the ids the reference implementation
/// (HuggingFace `tokenizers`, from the sentence model's own tokenizer.json) makes, on the
/// ~1,400 strings `scripts/models/tokenizer_reference.py` wrote at set-up: every ImageNet
/// class name, 300 WordNet glosses, and strings chosen to be hard.
@Suite("WordPiece tokenizer")
struct TokenizerTests {
    struct Case: Decodable {
        var text: String
        var ids: [Int64]
    }
    struct Embedded: Decodable {
        var text: String
        var vector: [Float]
    }
    struct Reference: Decodable {
        var tokens: [Case]
        /// By model: minilm-l3, minilm-l6.
        var embeddings: [String: [Embedded]]
    }
    static func reference() throws -> Reference {
        let file = TestModels.root.appendingPathComponent(".cache/sentence-reference.json")
        return try JSONDecoder().decode(Reference.self, from: try Data(contentsOf: file))
    }

    @Test("the same ids as the reference tokenizer on every case")
    func matchesReference() throws {
        let tokenizer = try WordPieceTokenizer(
            vocabularyFile: TestModels.folder.appendingPathComponent("minilm-vocab.txt"))
        let cases = try Self.reference().tokens
        #expect(cases.count > 1300)
        let wrong = cases.filter { tokenizer.ids($0.text) != $0.ids }
        #expect(
            wrong.isEmpty,
            "\(wrong.count) of \(cases.count) differ, first: \(wrong.prefix(5).map { "\($0.text.debugDescription): want \($0.ids), got \(tokenizer.ids($0.text))" })"
        )
        // Long input is cut to 128 ids, [SEP] last.
        let long = tokenizer.ids(String(repeating: "dog ", count: 500))
        #expect(long.count == 128 && long.last == tokenizer.end && long.first == tokenizer.start)
    }

    @Test(
        "each sentence model's vectors are onnxruntime's from Python, to 1e-4; near texts are near",
        arguments: ["minilm-l3", "minilm-l6"])
    func encoderMatchesReference(model: String) throws {
        let encoder = try SentenceEncoder(
            runtime: try TestModels.runtime(), model: TestModels.folder.appendingPathComponent(model + ".onnx"),
            vocabulary: TestModels.folder.appendingPathComponent("minilm-vocab.txt"))
        #expect(encoder.dimension == 384)
        let reference = try #require(try Self.reference().embeddings[model])
        #expect(reference.count >= 20)
        for item in reference {
            let vector = try encoder.embed(item.text)
            let largest = zip(vector, item.vector).map { abs($0 - $1) }.max() ?? 1
            #expect(largest < 1e-4, "\(item.text): differs by \(largest)")
        }
        func cosine(_ a: String, _ b: String) throws -> Float {
            zip(try encoder.embed(a), try encoder.embed(b)).reduce(0) { $0 + $1.0 * $1.1 }
        }
        #expect(try cosine("a place of worship", "church, a building for public worship") > 0.6)
        #expect(try cosine("a place of worship", "sports car") < 0.2)
    }
}
