import Foundation
public import IrisBlobs
import IrisCore
import IrisImaging
public import IrisML
import IrisStore

/// Iris's models as an Open Inference Protocol v2 server (`/v2`, docs/OIP.md): every local
/// model that analyses photos, each project's learner (`project-{id}-learner`) and its active
/// trained head (`project-{id}-head`). A model takes either its own input tensor (FP32, checked
/// against its metadata) or encoded images (`encoded_image`, BYTES, one image per element),
/// checked, decoded and prepared exactly as an upload's analysis is. Who may reach which model
/// is the server's decision (a project model needs access to its project); this decides what
/// a model takes, gives and answers.
public struct ModelServer: Sendable {
    public init(models: ModelRegistry, learning: LearningService, scratch: ScratchSpace, maxPixels: Int64) {
        self.models = models
        self.learning = learning
        self.scratch = scratch
        self.maxPixels = maxPixels
    }

    public let models: ModelRegistry
    public let learning: LearningService
    public let scratch: ScratchSpace
    public let maxPixels: Int64

    /// The BYTES input every model takes: encoded photos (JPEG, PNG, WebP, HEIC, GIF, TIFF).
    public static let encodedInput = "encoded_image"
    /// How many best labels `labels` lists, as an analysis keeps.
    static let topLabels = Model.topLabels

    /// A name the server answers to.
    public enum Served: Sendable {
        case local(Model)
        case learner(projectID: Int64)
        case head(projectID: Int64)

        /// The project a model belongs to (nil: an instance model).
        public var projectID: Int64? {
            switch self {
            case .local: nil
            case .learner(let id), .head(let id): id
            }
        }
    }

    /// What `name` refers to, or nil when no model has that name. A project model's name
    /// resolves whether or not the project exists: the caller's access is checked next.
    public func resolve(_ name: String) -> Served? {
        if name.hasPrefix("project-") {
            let rest = name.dropFirst("project-".count)
            for suffix in ["-learner", "-head"] where rest.hasSuffix(suffix) {
                // Digits alone, as the project's id is written: no sign, no leading zero.
                let digits = rest.dropLast(suffix.count)
                guard digits.allSatisfy(\.isASCII), let id = Int64(digits), id > 0, String(id) == digits else {
                    return nil
                }
                return suffix == "-learner" ? .learner(projectID: id) : .head(projectID: id)
            }
        }
        guard let model = models.model(name), Self.serves(model) else { return nil }
        return .local(model)
    }

    /// Local models that analyse photos with a graph of their own. Remote models are served by
    /// their own servers; derived models by their base; text readers' answers (lines of any
    /// number) are no fixed-shape tensor.
    static func serves(_ model: Model) -> Bool {
        let manifest = model.manifest
        return model.analyses && manifest.remote == nil && manifest.derived == nil && manifest.file != nil
            && !manifest.tasks.contains(.detectText)
    }

    /// The local models served, by name.
    public var localModels: [String] { models.available.filter(Self.serves).map(\.name).sorted() }

    // MARK: - Metadata

    public struct TensorMetadata: Sendable, Codable, Equatable {
        public var name: String
        public var datatype: String
        public var shape: [Int]
    }

    public struct Metadata: Sendable, Codable, Equatable {
        public var name: String
        public var versions: [String]
        public var platform: String
        public var inputs: [TensorMetadata]
        public var outputs: [TensorMetadata]
        /// The largest batch one request may carry.
        public var maxBatch: Int
    }

    /// What the model takes and gives; a 404 for a project without a learner or active head.
    public func metadata(_ served: Served, name: String) async throws -> Metadata {
        let plan = try await self.plan(served, name: name)
        return Metadata(
            name: name, versions: ["1"], platform: plan.platform,
            inputs: [
                TensorMetadata(name: plan.tensorInput, datatype: "FP32", shape: [-1] + plan.sampleShape.map { $0 }),
                TensorMetadata(name: Self.encodedInput, datatype: "BYTES", shape: [-1]),
            ],
            outputs: plan.outputs, maxBatch: plan.maxBatch)
    }

    /// How one model is fed and read, worked out per request (a learner's classes change).
    struct Plan: Sendable {
        var platform: String
        /// The embedder or the model itself.
        var model: Model
        var tensorInput: String
        var sampleShape: [Int]
        var maxBatch: Int
        var outputs: [TensorMetadata]
        /// The classes `probabilities` is over, in its order (empty: the model classifies nothing).
        var classes: [String]
        var head: SoftmaxRegression?
    }

    func plan(_ served: Served, name: String) async throws -> Plan {
        switch served {
        case .local(let model):
            let input = model.manifest.input
            var outputs = Set(model.manifest.outputs.values).sorted().map { tensor -> TensorMetadata in
                let classes = model.manifest.outputs["scores"] == tensor ? model.labelNames.count : -1
                return TensorMetadata(name: tensor, datatype: "FP32", shape: [-1, classes])
            }
            let classes = model.manifest.tasks.contains(.classify) ? model.labelNames : []
            if !classes.isEmpty { outputs += Self.classifierOutputs(classes.count, learner: false) }
            return Plan(
                platform: "onnxruntime_onnx", model: model, tensorInput: input.name,
                sampleShape: Self.sampleShape(input),
                maxBatch: input.maxBatch ?? 1, outputs: outputs, classes: classes)
        case .learner(let projectID):
            guard let record = try await learning.store.learning.learner(projectID: projectID), record.classCount > 0
            else {
                throw Refusal.notFound("model \(name) is not ready: project \(projectID)'s learner has no classes yet")
            }
            let classes = try await learning.store.learning.classes(projectID: projectID, names: nil).map(\.name)
                .sorted()
            return try embedderPlan(
                model: record.model, platform: "iris_learner", classes: classes, learner: true, head: nil, name: name)
        case .head(let projectID):
            guard let active = try await learning.activeHead(projectID: projectID) else {
                throw Refusal.notFound("model \(name) is not ready: project \(projectID) has no active trained head")
            }
            return try embedderPlan(
                model: active.record.model, platform: "iris_head", classes: active.head.classes, learner: false,
                head: active.head,
                name: name)
        }
    }

    private func embedderPlan(
        model name: String, platform: String, classes: [String], learner: Bool, head: SoftmaxRegression?,
        name served: String
    ) throws -> Plan {
        guard let model = models.model(name), model.manifest.embeds else {
            throw Refusal.unavailable(
                "model \(served) is not ready: its embedding model \(name) is not available")
        }
        let input = model.manifest.input
        return Plan(
            platform: platform, model: model, tensorInput: input.name, sampleShape: Self.sampleShape(input),
            maxBatch: input.maxBatch ?? 1, outputs: Self.classifierOutputs(classes.count, learner: learner),
            classes: classes, head: head)
    }

    static func sampleShape(_ input: ModelManifest.Input) -> [Int] {
        let (height, width) = input.resize == .fit ? (-1, -1) : (input.height, input.width)
        return input.layout == .nchw ? [3, height, width] : [height, width, 3]
    }

    static func classifierOutputs(_ classes: Int, learner: Bool) -> [TensorMetadata] {
        var outputs = [
            TensorMetadata(name: "labels", datatype: "BYTES", shape: [-1, min(topLabels, classes)]),
            TensorMetadata(name: "probabilities", datatype: "FP32", shape: [-1, classes]),
        ]
        if learner {
            outputs += [
                TensorMetadata(name: "label", datatype: "BYTES", shape: [-1, 1]),
                TensorMetadata(name: "confidence", datatype: "FP32", shape: [-1, 1]),
            ]
        }
        return outputs
    }

    // MARK: - Inference

    /// Runs a request and answers its outputs in the order asked (every output when none was named).
    public func infer(_ served: Served, name: String, request: InferenceWire.Request) async throws
        -> [InferenceWire.Output]
    {
        let plan = try await self.plan(served, name: name)
        let wanted = try wantedOutputs(request, plan: plan)
        guard request.inputs.count == 1, let input = request.inputs.first else {
            throw Refusal.invalid(
                "send one input: \(plan.tensorInput) (FP32) or \(Self.encodedInput) (BYTES, encoded images); got \(request.inputs.map(\.name).joined(separator: ", "))",
                field: request.inputs.last?.name)
        }
        let rows = try await run(input, plan: plan, served: served)
        return try wanted.map { try output($0, rows: rows, plan: plan, defaultBinary: request.binaryOutputs) }
    }

    private func wantedOutputs(_ request: InferenceWire.Request, plan: Plan) throws -> [InferenceWire.RequestedOutput] {
        guard let asked = request.outputs else {
            return plan.outputs.map { InferenceWire.RequestedOutput(name: $0.name) }
        }
        for output in asked {
            guard let known = plan.outputs.first(where: { $0.name == output.name }) else {
                throw Refusal.invalid(
                    "unknown output \(output.name.prefix(64)); the model gives \(plan.outputs.map(\.name).joined(separator: ", "))",
                    field: output.name)
            }
            if output.classification != nil {
                guard known.datatype == "FP32", known.shape.last.map({ $0 == plan.classes.count }) == true,
                    !plan.classes.isEmpty
                else {
                    throw Refusal.invalid(
                        "output \(output.name) is not over the model's classes; ask for classification on probabilities",
                        field: output.name)
                }
            }
        }
        return asked
    }

    /// One image's answer.
    struct Row {
        var tensors: [String: Tensor] = [:]
        /// Class probabilities in `plan.classes` order.
        var probabilities: [Float] = []
        /// Best first: class names and their probabilities.
        var ranked: [(label: String, score: Float)] = []
        /// A learner's answer ("" when unknown) and its confidence.
        var label: String?
        var confidence: Float?
    }

    private func run(_ input: InferenceWire.Input, plan: Plan, served: Served) async throws -> [Row] {
        let batch = input.shape.first ?? 0
        switch input.name {
        case Self.encodedInput:
            guard input.datatype == "BYTES", case .bytes(let images) = input.values else {
                throw Refusal.invalid(
                    "input \(input.name) is \(input.datatype), not BYTES (encoded images, one per element)",
                    field: input.name)
            }
            guard input.shape.count == 1 || (input.shape.count == 2 && input.shape[1] == 1) else {
                throw Refusal.invalid(
                    "input \(input.name) has shape \(input.shape), not [\(images.count)]: one image per element",
                    field: input.name)
            }
            try checkBatch(batch, plan: plan, input: input.name)
            return try await withFiles(images) { paths in
                try await rows(plan: plan, served: served, count: paths.count) { index in .file(path: paths[index]) }
            }
        case plan.tensorInput:
            guard input.datatype == "FP32", case .floats(let values) = input.values else {
                throw Refusal.invalid("input \(input.name) is \(input.datatype), not FP32", field: input.name)
            }
            let sample = plan.sampleShape
            guard input.shape.count == sample.count + 1,
                zip(input.shape.dropFirst(), sample).allSatisfy({ $1 < 0 ? $0 > 0 : $0 == $1 })
            else {
                throw Refusal.invalid(
                    "input \(input.name) has shape \(input.shape); the model takes \([-1] + sample)", field: input.name)
            }
            try checkBatch(batch, plan: plan, input: input.name)
            let size = values.count / batch
            let shape = Array(input.shape.dropFirst())
            return try await rows(plan: plan, served: served, count: batch) { index in
                .tensor(Array(values[index * size..<(index + 1) * size]), shape: shape)
            }
        default:
            throw Refusal.invalid(
                "unknown input \(input.name.prefix(64)); the model takes \(plan.tensorInput) (FP32 \([-1] + plan.sampleShape)) or \(Self.encodedInput) (BYTES [-1])",
                field: input.name)
        }
    }

    private func checkBatch(_ batch: Int, plan: Plan, input: String) throws {
        guard batch >= 1 else { throw Refusal.invalid("input \(input) holds no image (batch 0)", field: input) }
        guard batch <= plan.maxBatch else {
            throw Refusal.invalid(
                "input \(input) has a batch of \(batch); the model takes at most \(plan.maxBatch) (max_batch)",
                field: input)
        }
    }

    enum Sample {
        case file(path: String)
        case tensor([Float], shape: [Int])
    }

    /// Every sample's row, run at once so the model's batcher runs them together; the first
    /// failure fails the request (naming the element).
    private func rows(plan: Plan, served: Served, count: Int, sample: @escaping @Sendable (Int) -> Sample)
        async throws -> [Row]
    {
        let plan = plan
        var rows = [Row?](repeating: nil, count: count)
        try await withThrowingTaskGroup(of: (Int, Row).self) { group in
            for index in 0..<count {
                group.addTask { (index, try await self.row(sample(index), index: index, plan: plan, served: served)) }
            }
            for try await (index, row) in group { rows[index] = row }
        }
        return rows.map { $0! }
    }

    private func row(_ sample: Sample, index: Int, plan: Plan, served: Served) async throws -> Row {
        switch served {
        case .local:
            let (tensors, output) = try await describing(index) {
                switch sample {
                case .file(let path):
                    try checkHeader(path)
                    return try await plan.model.served(path: path)
                case .tensor(let values, let shape): return try await plan.model.served(sample: values, shape: shape)
                }
            }
            var row = Row(tensors: tensors)
            if !plan.classes.isEmpty, let probabilities = output.probabilities {
                row.probabilities = probabilities
                row.ranked = Self.ranked(probabilities, classes: plan.classes)
            }
            return row
        case .learner(let projectID), .head(let projectID):
            let vector = try await describing(index) {
                switch sample {
                case .file(let path):
                    // The same checks and embedding as classify's uploads.
                    return try await learning.embedding(path: path, model: plan.model.name)
                case .tensor(let values, let shape):
                    guard let vector = try await plan.model.served(sample: values, shape: shape).output.embedding else {
                        throw Refusal.conflict("\(plan.model.name) gave no embedding")
                    }
                    return vector
                }
            }
            if let head = plan.head {
                let probabilities = head.predict(vector).map { Float($0) }
                return Row(probabilities: probabilities, ranked: Self.ranked(probabilities, classes: plan.classes))
            }
            let answer = try await learning.classify(projectID: projectID, vectors: [vector])[0]
            var probabilities = [Float](repeating: 0, count: plan.classes.count)
            for ranked in answer.ranked {
                if let at = plan.classes.firstIndex(of: ranked.label) { probabilities[at] = Float(ranked.confidence) }
            }
            return Row(
                probabilities: probabilities,
                ranked: answer.ranked.map { ($0.label, Float($0.confidence)) }, label: answer.label ?? "",
                confidence: Float(answer.confidence))
        }
    }

    /// An image's refusal names its element; a decode that fails is the image's fault (400), not the server's.
    private func describing<T>(_ index: Int, _ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let refusal as Refusal {
            var named = refusal
            named.detail = "element \(index): \(refusal.detail)"
            throw named
        } catch let error as VipsError {
            throw Refusal.invalid(
                "element \(index) of \(Self.encodedInput) cannot be decoded: \(error)", field: Self.encodedInput)
        }
    }

    /// What an upload is held to before it is decoded: an accepted format, a readable header and
    /// at most `image.max_pixels`.
    private func checkHeader(_ path: String) throws {
        let size = try ImageInspector.headerSize(path: path, field: Self.encodedInput)
        try ImageInspector.checkPixels(
            width: size.width, height: size.height, limit: maxPixels, field: Self.encodedInput)
    }

    /// Writes each image to scratch space (decoders read files, as an upload's analysis does),
    /// runs `work`, and removes the files whatever happens.
    private func withFiles<T>(_ images: [Data], _ work: ([String]) async throws -> T) async throws -> T {
        var urls: [URL] = []
        defer { for url in urls { try? FileManager.default.removeItem(at: url) } }
        for image in images {
            let url = scratch.newFileURL(suffix: ".oip")
            urls.append(url)
            try image.write(to: url)
        }
        return try await work(urls.map(\.path))
    }

    static func ranked(_ probabilities: [Float], classes: [String]) -> [(label: String, score: Float)] {
        probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }.prefix(topLabels).map {
            (classes[$0], probabilities[$0])
        }
    }

    private func output(
        _ wanted: InferenceWire.RequestedOutput, rows: [Row], plan: Plan, defaultBinary: Bool
    ) throws -> InferenceWire.Output {
        let binary = wanted.binary ?? defaultBinary
        let count = rows.count
        if let k = wanted.classification {
            // Triton's classification extension: the k highest values as "value:index:label".
            var strings: [Data] = []
            let k = min(k, plan.classes.count)
            for row in rows {
                let values = wanted.name == "probabilities" ? row.probabilities : row.tensors[wanted.name]?.values ?? []
                for index in values.indices.sorted(by: { values[$0] > values[$1] }).prefix(k) {
                    strings.append(Data("\(values[index]):\(index):\(plan.classes[index])".utf8))
                }
            }
            return .init(name: wanted.name, shape: [count, k], values: .bytes(strings), binary: binary)
        }
        switch wanted.name {
        case "labels":
            let width = min(Self.topLabels, plan.classes.count)
            let labels = rows.flatMap { row in
                (0..<width).map { Data((($0 < row.ranked.count) ? row.ranked[$0].label : "").utf8) }
            }
            return .init(name: "labels", shape: [count, width], values: .bytes(labels), binary: binary)
        case "probabilities":
            return .init(
                name: "probabilities", shape: [count, plan.classes.count],
                values: .floats(rows.flatMap(\.probabilities)),
                binary: binary)
        case "label":
            return .init(
                name: "label", shape: [count, 1], values: .bytes(rows.map { Data(($0.label ?? "").utf8) }),
                binary: binary)
        case "confidence":
            return .init(
                name: "confidence", shape: [count, 1], values: .floats(rows.map { $0.confidence ?? 0 }), binary: binary)
        default:
            let tensors = rows.compactMap { $0.tensors[wanted.name] }
            guard tensors.count == count, let first = tensors.first else {
                throw Refusal.invalid("the model gave no output \(wanted.name)", field: wanted.name)
            }
            return .init(
                name: wanted.name, shape: [count] + first.shape.dropFirst(), values: .floats(tensors.flatMap(\.values)),
                binary: binary)
        }
    }
}
