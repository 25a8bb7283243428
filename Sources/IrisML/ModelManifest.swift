import Foundation

/// What a model does, which decides how its outputs are read and stored.
public enum ModelTask: String, Sendable, Codable, CaseIterable {
    /// Scores over a list of labels; Iris keeps the top 5.
    case classify
    /// A feature vector describing the image (stored L2-normalised).
    case embed
    /// One probability that the image is not safe for work.
    case moderate
    /// Text lines found in the image, with boxes.
    case detectText = "detect-text"
    /// A photo and a mask in, the repaired photo out: a repair method (docs/MODELS.md).
    case inpaint
    /// The image side of a vision–language pair (CLIP): an embedding, like `embed`, in the
    /// space its `pair`'s texts are embedded in.
    case embedImage = "embed-image"
    /// The text side of a vision–language pair: CLIP's token ids in, an embedding out. It
    /// analyses no image; its image model names it as its `pair`.
    case embedText = "embed-text"
}

/// One model: a JSON file in the models folder naming an ONNX file (or a remote server)
/// and everything needed to feed it and read it. See docs/MODELS.md for the format.
public struct ModelManifest: Sendable, Codable, Equatable {
    public var name: String
    public var description: String?
    public var tasks: [ModelTask]
    /// The ONNX file, relative to the manifest's folder. Absent for a remote model.
    public var file: String?
    public var remote: Remote?
    public var input: Input
    /// Graph output names by role: `scores` (classify, moderate), `embedding` (embed),
    /// `probabilities` (detect-text).
    public var outputs: [String: String]
    /// `softmax` when `scores` are logits; `none` when they are already probabilities.
    public var activation: Activation?
    /// The labels, for `classify` and `moderate`: a file (one per line, relative to the
    /// manifest's folder) or the list itself. Models registered over the API give the list.
    public var labels: Labels?
    /// For `moderate`: the label whose score is the moderation score.
    public var flagLabel: String?
    /// For `detect-text`: the recogniser run on each found line.
    public var recognizer: Recognizer?
    /// For `embed` models a learner uses: the coefficients of its answers' confidence (fitted
    /// by `iris learn quality --fit-calibration`); without them the learner's standard ones.
    public var calibration: IncrementalLearner.Calibration?
    /// For `embed` models: the cosine below which a photo is "not similar" on the photo page
    /// (measured: above it a neighbour is more often of the photo's kind than not; docs/MODELS.md).
    public var similarAbove: Double?
    /// For `inpaint`: the mask input and the output's range.
    public var inpaint: Inpaint?
    /// For a feature model made from another model's outputs (no graph of its own): which
    /// model and how (`Derived`, docs/MODELS.md "Derived models").
    public var derived: Derived?
    /// For `embed-image`: the name of the `embed-text` model whose texts share its space.
    public var pair: String?
    /// For `embed-image`: the factor the pair's cosines are multiplied by before a softmax over
    /// texts (CLIP's learned temperature, 100 for OpenAI's and OpenCLIP's models).
    public var logitScale: Double?
    /// For `embed-text`: the token input and CLIP's merge list.
    public var text: TextInput?
    public var license: String?
    public var source: String?

    public enum Activation: String, Sendable, Codable { case softmax, none }

    /// Whether the model gives each image an embedding (`embed`, or the image side of a pair).
    public var embeds: Bool { tasks.contains(.embed) || tasks.contains(.embedImage) }

    /// How a text model is fed: int64 token ids, batch × `context_length`, from CLIP's
    /// byte-pair tokenizer over the merge list `merges` (relative to the manifest's folder).
    public struct TextInput: Sendable, Codable, Equatable {
        public var input: String
        public var contextLength: Int?
        public var merges: String

        enum CodingKeys: String, CodingKey {
            case input, merges
            case contextLength = "context_length"
        }
    }

    /// A labels file's name, or the labels themselves.
    public enum Labels: Sendable, Codable, Equatable {
        case file(String)
        case list([String])

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let name = try? container.decode(String.self) {
                self = .file(name)
            } else {
                self = .list(try container.decode([String].self))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .file(let name): try container.encode(name)
            case .list(let labels): try container.encode(labels)
            }
        }

        /// How the manifest names them, for messages.
        var description: String {
            switch self {
            case .file(let name): name
            case .list: "the labels list"
            }
        }
    }

    public struct Input: Sendable, Codable, Equatable {
        public var name: String
        /// `NCHW` or `NHWC`.
        public var layout: Layout
        public var width: Int
        public var height: Int
        /// Channel order the graph expects: `RGB` or `BGR`.
        public var colors: ColorOrder
        /// `centre-crop` (shorter side to `shortSide`, then the centre), `stretch`, or
        /// `fit` (inside width × height, padded to multiples of `multiple`).
        public var resize: Resize
        public var shortSide: Int?
        public var multiple: Int?
        /// value = (pixel / scale - mean) / std, per channel in the graph's channel order.
        public var scale: Float
        public var mean: [Float]
        public var std: [Float]
        /// Largest batch sent in one run; 1 when the graph has a fixed batch dimension.
        public var maxBatch: Int?

        public enum Layout: String, Sendable, Codable {
            case nchw = "NCHW"
            case nhwc = "NHWC"
        }
        public enum ColorOrder: String, Sendable, Codable {
            case rgb = "RGB"
            case bgr = "BGR"
        }
        public enum Resize: String, Sendable, Codable {
            case centreCrop = "centre-crop"
            case stretch, fit
        }
    }

    public struct Recognizer: Sendable, Codable, Equatable {
        public var file: String
        public var input: String
        public var output: String
        /// Characters, one per line; the output's class 0 is the CTC blank.
        public var keys: String
        public var height: Int
        public var maxWidth: Int
        public var mean: [Float]
        public var std: [Float]
    }

    /// A model served elsewhere over the Open Inference Protocol v2 (KServe, Triton, MLServer).
    public struct Remote: Sendable, Codable, Equatable {
        /// Base URL, e.g. `http://10.0.0.5:8080`; Iris calls `/v2/models/{model}/infer`.
        /// Its origin must be listed in `models.remote_allow`.
        public var url: String
        /// The model's name on that server.
        public var model: String
        /// How long one request may take (default 30 s).
        public var timeoutSeconds: Double?
        /// How many times a request that failed on the way (no answer, 429, 502–504) is sent
        /// again before the job fails (default 2).
        public var retries: Int?
    }

    /// How an inpainting network takes its mask and gives its result. The photo goes in as
    /// `input` says (NCHW, 3 channels, `(value / scale − mean) / std` on 0–255 values); the mask
    /// as float 1 × 1 × H × W, 1 where the photo is to be repaired and 0 elsewhere; the output
    /// `outputs.image` is 1 × 3 × H × W in the input's colour order, times `output_scale` on 0–255.
    public struct Inpaint: Sendable, Codable, Equatable {
        public var maskInput: String
        /// 255 when the graph answers 0–1, 1 when it answers 0–255.
        public var outputScale: Float?

        enum CodingKeys: String, CodingKey {
            case maskInput = "mask_input"
            case outputScale = "output_scale"
        }
    }

    enum CodingKeys: String, CodingKey {
        case name, description, tasks, file, remote, input, outputs, activation, labels, recognizer, license, source
        case calibration, inpaint, derived, pair, text
        case flagLabel = "flag_label"
        case similarAbove = "similar_above"
        case logitScale = "logit_scale"
    }
}

extension ModelManifest {
    /// As the synthesised decoder, except that a text model (`embed-text`) has no image input:
    /// its `input` is then a placeholder that nothing reads.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        tasks = try container.decode([ModelTask].self, forKey: .tasks)
        file = try container.decodeIfPresent(String.self, forKey: .file)
        remote = try container.decodeIfPresent(Remote.self, forKey: .remote)
        if tasks.contains(.embedText), !container.contains(.input) {
            input = Input(
                name: "", layout: .nchw, width: 1, height: 1, colors: .rgb, resize: .stretch, scale: 1,
                mean: [0, 0, 0], std: [1, 1, 1])
        } else {
            input = try container.decode(Input.self, forKey: .input)
        }
        outputs = try container.decode([String: String].self, forKey: .outputs)
        activation = try container.decodeIfPresent(Activation.self, forKey: .activation)
        labels = try container.decodeIfPresent(Labels.self, forKey: .labels)
        flagLabel = try container.decodeIfPresent(String.self, forKey: .flagLabel)
        recognizer = try container.decodeIfPresent(Recognizer.self, forKey: .recognizer)
        calibration = try container.decodeIfPresent(IncrementalLearner.Calibration.self, forKey: .calibration)
        similarAbove = try container.decodeIfPresent(Double.self, forKey: .similarAbove)
        inpaint = try container.decodeIfPresent(Inpaint.self, forKey: .inpaint)
        derived = try container.decodeIfPresent(Derived.self, forKey: .derived)
        pair = try container.decodeIfPresent(String.self, forKey: .pair)
        logitScale = try container.decodeIfPresent(Double.self, forKey: .logitScale)
        text = try container.decodeIfPresent(TextInput.self, forKey: .text)
        license = try container.decodeIfPresent(String.self, forKey: .license)
        source = try container.decodeIfPresent(String.self, forKey: .source)
    }
}

extension ModelManifest.Input {
    enum CodingKeys: String, CodingKey {
        case name, layout, width, height, colors, resize, scale, mean, std, multiple
        case shortSide = "short_side"
        case maxBatch = "max_batch"
    }
}

extension ModelManifest.Recognizer {
    enum CodingKeys: String, CodingKey {
        case file, input, output, keys, height, mean, std
        case maxWidth = "max_width"
    }
}

extension ModelManifest.Remote {
    enum CodingKeys: String, CodingKey {
        case url, model, retries
        case timeoutSeconds = "timeout_seconds"
    }
}

/// Why a manifest cannot be used; reported at start and by `iris models list`.
public struct ManifestError: Error, Sendable, CustomStringConvertible, Equatable {
    public let model: String
    public let message: String
    public var description: String { "model \(model): \(message)" }
}

extension ModelManifest {
    /// The graph outputs the manifest reads, each once.
    var outputNames: [String] { Array(Set(outputs.values)).sorted() }

    /// Checks the manifest on its own (before any graph is loaded).
    public func validate() throws {
        func fail(_ message: String) -> ManifestError { ManifestError(model: name, message: message) }
        guard name.range(of: #"^[a-z0-9][a-z0-9._-]{0,63}$"#, options: .regularExpression) != nil else {
            throw fail("name must be 1–64 lowercase letters, digits, '.', '_' or '-'")
        }
        guard !tasks.isEmpty else { throw fail("tasks is empty") }
        guard (file == nil) != (remote == nil) else { throw fail("exactly one of file and remote must be given") }
        guard input.width > 0, input.height > 0 else { throw fail("input width and height must be positive") }
        guard input.mean.count == 3, input.std.count == 3, input.std.allSatisfy({ $0 != 0 }) else {
            throw fail("input mean and std need 3 values each, std non-zero")
        }
        if input.resize == .centreCrop, (input.shortSide ?? 0) < min(input.width, input.height) {
            throw fail("centre-crop needs short_side at least the input size")
        }
        if tasks.contains(.inpaint) {
            guard tasks == [.inpaint] else {
                throw fail("an inpaint model does nothing else: tasks must be [\"inpaint\"]")
            }
            guard remote == nil else { throw fail("inpaint models run in Iris; they cannot be remote") }
            guard inpaint != nil else { throw fail("inpaint needs inpaint.mask_input") }
            guard input.layout == .nchw else { throw fail("inpaint models take NCHW input") }
            guard input.resize == .stretch else { throw fail("inpaint models take input.resize \"stretch\"") }
        }
        try validatePair()
        for (task, role) in [
            (ModelTask.classify, "scores"), (.moderate, "scores"), (.embed, "embedding"),
            (.detectText, "probabilities"), (.inpaint, "image"), (.embedImage, "embedding"), (.embedText, "embedding"),
        ]
        where tasks.contains(task) && outputs[role] == nil {
            throw fail("task \(task.rawValue) needs outputs.\(role)")
        }
        if tasks.contains(.classify) || tasks.contains(.moderate), labels == nil {
            throw fail("classify and moderate need a labels file")
        }
        if tasks.contains(.moderate), flagLabel == nil { throw fail("moderate needs flag_label") }
        if let similarAbove, !(-1...1).contains(similarAbove) {
            throw fail("similar_above is a cosine, from -1 to 1 (embed models; others ignore it)")
        }
        if tasks.contains(.detectText), recognizer == nil { throw fail("detect-text needs a recognizer") }
        if let remote {
            guard !tasks.contains(.detectText) else {
                throw fail("detect-text runs two graphs and a reader in Iris; it cannot be remote")
            }
            guard remote.model.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"#, options: .regularExpression) != nil
            else {
                throw fail("remote.model must be 1–128 letters, digits, '.', '_' or '-'")
            }
            guard (remote.timeoutSeconds ?? 30) > 0, (remote.timeoutSeconds ?? 30) <= 600 else {
                throw fail("remote.timeout_seconds must be in (0, 600]")
            }
            guard (0...5).contains(remote.retries ?? 2) else { throw fail("remote.retries must be 0–5") }
        }
        if case .list(let list) = labels, list.isEmpty { throw fail("labels is an empty list") }
    }
}

extension ModelManifest {
    /// The checks of a vision–language pair's two manifests, each on its own (that the pair
    /// exists and is a text model is checked once every manifest is read: `ModelRegistry`).
    func validatePair() throws {
        func fail(_ message: String) -> ManifestError { ManifestError(model: name, message: message) }
        if tasks.contains(.embedText) {
            guard tasks == [.embedText] else {
                throw fail("a text model does nothing else: tasks must be [\"embed-text\"]")
            }
            guard remote == nil else { throw fail("embed-text models run in Iris; they cannot be remote") }
            guard let text else {
                throw fail("embed-text needs text.input (the int64 token ids) and text.merges (CLIP's merge list)")
            }
            guard (2...1024).contains(text.contextLength ?? 77) else {
                throw fail("text.context_length must be 2–1024 (CLIP's is 77)")
            }
        } else if text != nil {
            throw fail("text is for embed-text models")
        }
        if tasks.contains(.embedImage) {
            guard remote == nil else { throw fail("embed-image models run in Iris; they cannot be remote") }
            guard let pair, !pair.isEmpty else {
                throw fail("embed-image needs pair: the name of the embed-text model that embeds its texts")
            }
            guard pair != name else { throw fail("pair names the model itself; it must name an embed-text model") }
            if let logitScale, !(logitScale > 0 && logitScale <= 1000) {
                throw fail("logit_scale must be above 0 and at most 1000 (CLIP's is 100)")
            }
        } else if pair != nil || logitScale != nil {
            throw fail("pair and logit_scale are for embed-image models")
        }
    }
}
