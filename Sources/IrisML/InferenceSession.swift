import CONNXRuntime
import Foundation

/// The element type and shape of one input or output of a graph; -1 marks a free dimension.
public struct TensorSpec: Sendable, Equatable, Codable {
    public let name: String
    public let elementType: ElementType
    public let shape: [Int]

    public enum ElementType: String, Sendable, Codable {
        case float, int64, other
    }
}

/// A dense float tensor in row-major order.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "tensor shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }
}

/// One loaded ONNX graph. `run` may be called from many threads at once (ORT's sessions
/// are thread-safe); every ORT object made for a run is released before it returns.
public final class InferenceSession: @unchecked Sendable {
    public let runtime: ONNXRuntime
    public let inputs: [TensorSpec]
    public let outputs: [TensorSpec]
    private let session: OpaquePointer

    /// Threads: `intraOp` work inside one operator (0 = ORT's default, one per core),
    /// `interOp` operators run side by side (1 = sequential). `spinning` lets ORT's pool
    /// threads busy-wait for the next piece of work: a little lower latency for a lone
    /// caller, but the waiting threads take the cores that decoding needs, so it is off.
    public struct Threads: Sendable, Equatable {
        public var intraOp: Int
        public var interOp: Int
        public var spinning: Bool
        public init(intraOp: Int, interOp: Int = 1, spinning: Bool = false) {
            self.intraOp = intraOp
            self.interOp = interOp
            self.spinning = spinning
        }
    }

    /// `shapesVary`: the graph is fed many input shapes (a text detector's page sizes, a
    /// recogniser's line widths). ORT's memory patterns plan one block per shape seen, and
    /// its arena keeps every block, so for such graphs they are turned off: the PP-OCRv4
    /// detector on 12 page shapes up to 960 px held 351 MB with them and 248 MB without.
    public init(runtime: ONNXRuntime, path: String, threads: Threads, shapesVary: Bool = false) throws {
        self.runtime = runtime
        let api = runtime.api
        var options: OpaquePointer?
        try runtime.check("CreateSessionOptions", iris_ort_create_session_options(api, &options))
        defer { iris_ort_release_session_options(api, options) }
        try runtime.check(
            "SetSessionGraphOptimizationLevel",
            iris_ort_set_optimization_level(api, options, Int32(IRIS_ORT_ENABLE_ALL)))
        try runtime.check("SetIntraOpNumThreads", iris_ort_set_intra_op_threads(api, options, Int32(threads.intraOp)))
        try runtime.check("SetInterOpNumThreads", iris_ort_set_inter_op_threads(api, options, Int32(threads.interOp)))
        if shapesVary { try runtime.check("DisableMemPattern", iris_ort_disable_mem_pattern(api, options)) }
        let entries = [
            ("session.intra_op.allow_spinning", threads.spinning ? "1" : "0"),
            ("session.inter_op.allow_spinning", threads.spinning ? "1" : "0"),
            ("session.use_env_allocators", "1"),
        ]
        for (key, value) in entries {
            try runtime.check(
                "AddSessionConfigEntry(\(key))", iris_ort_add_session_config_entry(api, options, key, value))
        }
        var session: OpaquePointer?
        try runtime.check("CreateSession(\(path))", iris_ort_create_session(api, runtime.env, path, options, &session))
        self.session = session!
        do {
            inputs = try Self.specs(runtime, session!, input: true)
            outputs = try Self.specs(runtime, session!, input: false)
        } catch {
            iris_ort_release_session(api, session)
            throw error
        }
    }

    deinit { iris_ort_release_session(runtime.api, session) }

    private static func specs(_ runtime: ONNXRuntime, _ session: OpaquePointer, input: Bool) throws -> [TensorSpec] {
        let api = runtime.api
        var count = 0
        try runtime.check(
            input ? "SessionGetInputCount" : "SessionGetOutputCount",
            input ? iris_ort_input_count(api, session, &count) : iris_ort_output_count(api, session, &count))
        return try (0..<count).map { index in
            var rawName: UnsafeMutablePointer<CChar>?
            try runtime.check(
                input ? "SessionGetInputName" : "SessionGetOutputName",
                input
                    ? iris_ort_input_name(api, session, index, runtime.allocator, &rawName)
                    : iris_ort_output_name(api, session, index, runtime.allocator, &rawName))
            let name = String(cString: rawName!)
            try runtime.check("AllocatorFree", iris_ort_allocator_free(api, runtime.allocator, rawName))
            var typeInfo: OpaquePointer?
            try runtime.check(
                input ? "SessionGetInputTypeInfo" : "SessionGetOutputTypeInfo",
                input
                    ? iris_ort_input_type_info(api, session, index, &typeInfo)
                    : iris_ort_output_type_info(api, session, index, &typeInfo))
            defer { iris_ort_release_type_info(api, typeInfo) }
            var tensorInfo: OpaquePointer?
            try runtime.check("CastTypeInfoToTensorInfo", iris_ort_cast_to_tensor_info(api, typeInfo, &tensorInfo))
            guard let tensorInfo else { return TensorSpec(name: name, elementType: .other, shape: []) }
            let (element, shape) = try describe(runtime, tensorInfo)
            return TensorSpec(name: name, elementType: element, shape: shape)
        }
    }

    static func describe(_ runtime: ONNXRuntime, _ info: OpaquePointer) throws -> (TensorSpec.ElementType, [Int]) {
        let api = runtime.api
        var elementType: Int32 = 0
        try runtime.check("GetTensorElementType", iris_ort_element_type(api, info, &elementType))
        var rank = 0
        try runtime.check("GetDimensionsCount", iris_ort_dimensions_count(api, info, &rank))
        var dimensions = [Int64](repeating: 0, count: rank)
        try runtime.check("GetDimensions", iris_ort_dimensions(api, info, &dimensions, rank))
        let element: TensorSpec.ElementType =
            switch elementType {
            case Int32(IRIS_ORT_FLOAT): .float
            case Int32(IRIS_ORT_INT64): .int64
            default: .other
            }
        return (element, dimensions.map(Int.init))
    }

    /// Runs the graph on float inputs by name and returns the named float outputs.
    public func run(_ feeds: [String: Tensor], outputs wanted: [String]) throws -> [String: Tensor] {
        try run(feeds, integers: [:], outputs: wanted)
    }

    /// `feeds` as float tensors and `integers` as int64 ones (a text model's token ids and
    /// attention mask: `(shape, values)`); float outputs only.
    public func run(
        _ feeds: [String: Tensor], integers: [String: (shape: [Int], values: [Int64])], outputs wanted: [String]
    )
        throws -> [String: Tensor]
    {
        let api = runtime.api
        let names = Array(feeds.keys) + Array(integers.keys)
        var values: [OpaquePointer?] = []
        defer { for value in values { iris_ort_release_value(api, value) } }
        // ORT reads inputs in place: each gets a buffer of its own that outlives the run.
        var buffers: [UnsafeMutableRawBufferPointer] = []
        defer { for buffer in buffers { buffer.deallocate() } }
        func feed<Element>(_ name: String, shape: [Int], _ elements: [Element], type: Int32) throws {
            precondition(
                shape.reduce(1, *) == elements.count, "input \(name): shape \(shape) for \(elements.count) values")
            let bytes = elements.count * MemoryLayout<Element>.stride
            let buffer = UnsafeMutableRawBufferPointer.allocate(
                byteCount: max(bytes, 1), alignment: MemoryLayout<Element>.alignment)
            buffers.append(buffer)
            elements.withUnsafeBytes { buffer.copyMemory(from: $0) }
            let dimensions = shape.map(Int64.init)
            var value: OpaquePointer?
            try runtime.check(
                "CreateTensorWithDataAsOrtValue(\(name))",
                iris_ort_create_tensor(
                    api, runtime.cpuMemory, buffer.baseAddress, bytes, dimensions, dimensions.count, type, &value))
            values.append(value)
        }
        // In the order of `names`, which the run passes alongside.
        for name in names {
            if let tensor = feeds[name] {
                try feed(name, shape: tensor.shape, tensor.values, type: Int32(IRIS_ORT_FLOAT))
            } else if let tensor = integers[name] {
                try feed(name, shape: tensor.shape, tensor.values, type: Int32(IRIS_ORT_INT64))
            }
        }
        var results = [OpaquePointer?](repeating: nil, count: wanted.count)
        defer { for result in results { iris_ort_release_value(api, result) } }
        let status = withCStrings(names) { inputNames in
            withCStrings(wanted) { outputNames in
                values.withUnsafeBufferPointer { inputs in
                    iris_ort_run(
                        api, session, nil, inputNames, inputs.baseAddress, names.count, outputNames, wanted.count,
                        &results)
                }
            }
        }
        try runtime.check("Run", status)
        var tensors: [String: Tensor] = [:]
        for (name, result) in zip(wanted, results) {
            guard let result else { throw RuntimeError(operation: "Run", message: "no value for output \(name)") }
            var info: OpaquePointer?
            try runtime.check("GetTensorTypeAndShape(\(name))", iris_ort_tensor_type_and_shape(api, result, &info))
            defer { iris_ort_release_tensor_info(api, info) }
            let (element, shape) = try Self.describe(runtime, info!)
            guard element == .float else {
                throw RuntimeError(operation: "Run", message: "output \(name) is \(element.rawValue), not float")
            }
            var data: UnsafeMutableRawPointer?
            try runtime.check("GetTensorMutableData(\(name))", iris_ort_tensor_data(api, result, &data))
            let count = shape.reduce(1, *)
            let buffer = UnsafeBufferPointer(start: data!.assumingMemoryBound(to: Float.self), count: count)
            tensors[name] = Tensor(shape: shape, values: Array(buffer))
        }
        return tensors
    }
}

/// Calls `body` with a NUL-terminated C array of the strings, valid for the call.
func withCStrings<Result>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> Result) -> Result {
    let copies = strings.map { strdup($0) }
    defer { for copy in copies { free(copy) } }
    let pointers = copies.map { UnsafePointer<CChar>($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
