public import Foundation
public import IrisML

/// The ImageNet classes placed in a sentence-embedding space, for queries whose words name no
/// class ("something to eat", "a place of worship"): each class's WordNet words and gloss
/// ("pizza, pizza pie: Italian open pie made of thin bread dough…") embedded once by the
/// sentence model, so a query's embedding scores every class by cosine similarity. An image
/// then scores by the probabilities its models gave those classes: the convex combination of
/// semantic embeddings of Norouzi et al. (2014, ConSE), computed through the class space so
/// that no per-image vector needs storing.
public struct SemanticClasses: Sendable {
    public let encoder: SentenceEncoder
    /// One unit vector per class, in the labels' order.
    public let vectors: [[Float]]
    /// Seconds the classes took to embed (once per process).
    public var seconds: Double = 0

    /// Loads the model and embeds the classes' documents; the vectors are kept for the
    /// process (every server of a test run shares them).
    public static func load(vocabulary: SearchVocabulary, wnids: [String], model: URL, words: URL, runtime: String)
        throws -> SemanticClasses
    {
        let key = model.standardizedFileURL.path
        // One at a time: a second caller waits for the first's vectors rather than making its own.
        lock.lock()
        defer { lock.unlock() }
        if let known = cache[key] { return known }
        let encoder = try SentenceEncoder(
            runtime: try ONNXRuntime.load(from: runtime), model: model, vocabulary: words, threads: 1)
        let started = Date()
        var vectors: [[Float]] = []
        for (index, label) in vocabulary.labels.enumerated() {
            var document = label
            if index < wnids.count, let offset = Int(wnids[index].dropFirst()),
                let synset = vocabulary.wordnet.synsets[offset]
            {
                document = synset.words.joined(separator: ", ") + ": " + synset.gloss
            }
            vectors.append(try encoder.embed(document))
        }
        var made = SemanticClasses(encoder: encoder, vectors: vectors)
        made.seconds = Date().timeIntervalSince(started)
        cache[key] = made
        return made
    }

    /// From the settings: the sentence model's ONNX file (`minilm-l3.onnx` unless
    /// `search.sentence_model` says otherwise) and `minilm-vocab.txt` in the models folder.
    public static func load(_ settings: IrisSettings) throws -> SemanticClasses {
        let folder = settings.models.folder
        let vocabulary = try SearchVocabulary.load(wordnet: settings.wordnetDirectory, models: folder)
        let wnids = (try String(contentsOf: folder.appendingPathComponent("imagenet-wnids.txt"), encoding: .utf8))
            .split(separator: "\n").map(String.init)
        return try load(
            vocabulary: vocabulary, wnids: wnids,
            model: folder.appendingPathComponent(settings.sentenceModel + ".onnx"),
            words: folder.appendingPathComponent("minilm-vocab.txt"), runtime: settings.models.runtimeLibrary)
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [String: SemanticClasses] = [:]

    /// Every class's cosine similarity to `query` (a unit vector), in the labels' order.
    func similarities(to query: [Float]) -> [Float] {
        vectors.map { vector in zip(vector, query).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
    }
}
