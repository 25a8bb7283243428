import Foundation
import Logging

/// Vision–language pairs: an `embed-image` model and the `embed-text` model its manifest names
/// as its `pair` (docs/MODELS.md, "A vision–language model").
extension ModelRegistry {
    /// The pairs ready to use, by the image model's name.
    public var visionLanguagePairs: [(image: Model, text: Model)] {
        available.filter { $0.manifest.tasks.contains(.embedImage) }.compactMap { image in
            guard let name = image.manifest.pair, let text = model(name), text.textEncoder != nil else { return nil }
            return (image, text)
        }
        .sorted { $0.image.name < $1.image.name }
    }

    /// The pair whose image model is `name`, if it is one.
    public func visionLanguagePair(image name: String) -> (image: Model, text: Model)? {
        visionLanguagePairs.first { $0.image.name == name }
    }

    /// Once every manifest is read: an image model whose pair is missing, unusable or not a
    /// text model cannot be used (its entry says why); a text model no image model names is
    /// kept, with a note.
    static func pairUp(_ entries: inout [Entry], _ models: inout [String: Model], logger: Logger) {
        let byName = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, entry) in entries.enumerated() {
            guard let manifest = entry.manifest, entry.available else { continue }
            if manifest.tasks.contains(.embedImage), let pair = manifest.pair {
                let problem: String? =
                    if let other = byName[pair] {
                        if !(other.manifest?.tasks.contains(.embedText) ?? false) {
                            "pair names \(pair), which is not an embed-text model"
                        } else if let trouble = other.problem {
                            "its pair \(pair) cannot be used: \(trouble)"
                        } else {
                            nil
                        }
                    } else {
                        "pair names \(pair), which is not in the models folder (add its manifest, or fix the name)"
                    }
                if let problem {
                    entries[index] = Entry(name: entry.name, manifest: manifest, problem: problem)
                    models[entry.name] = nil
                    logger.error("model unavailable", metadata: ["model": "\(entry.name)", "problem": "\(problem)"])
                }
            }
            if manifest.tasks.contains(.embedText),
                !entries.contains(where: {
                    $0.manifest?.pair == entry.name && $0.manifest?.tasks.contains(.embedImage) == true
                })
            {
                entries[index].note = "no embed-image model names it as its pair, so nothing uses it"
            }
        }
    }
}

extension ModelLoader {
    /// A text model: its graph and CLIP's tokenizer over the merge list it names.
    func loadText() throws -> Model {
        guard let text = manifest.text, let output = manifest.outputs["embedding"], let name = manifest.file else {
            throw fail("embed-text needs file, text and outputs.embedding")
        }
        let tokenizer = try CLIPTokenizer(
            mergesFile: URL(fileURLWithPath: try file(text.merges)), contextLength: text.contextLength ?? 77)
        let session = try InferenceSession(runtime: runtime(), path: try file(name), threads: threads)
        let encoder: CLIPTextEncoder
        do {
            encoder = try CLIPTextEncoder(session: session, tokenizer: tokenizer, input: text.input, output: output)
        } catch let error as RuntimeError {
            throw fail(error.message)
        }
        return Model(
            manifest: manifest, labels: [], backend: TextOnly(model: manifest.name), textReader: nil,
            textEncoder: encoder)
    }
}

/// The backend of a text model: it embeds words and analyses no photo.
struct TextOnly: InferenceBackend {
    let model: String

    func infer(_ sample: [Float], shape: [Int], input: String, outputs: [String]) async throws -> [String: Tensor] {
        throw RuntimeError(operation: "analyze", message: "\(model) embeds text; it does not analyse photos")
    }
}
