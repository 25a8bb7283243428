public import Foundation
import IrisCore

/// The Open Inference Protocol v2's HTTP body (KServe, NVIDIA Triton), as Iris serves it: a JSON
/// object, optionally followed by the tensors' bytes (Triton's binary tensor data extension,
/// which `tritonclient` uses by default), whose JSON length the `Inference-Header-Content-Length`
/// header gives. Only what Iris's models take and give is read: `FP32` and `BYTES` tensors.
///
/// Every refusal is a `Refusal.invalid` naming the tensor at fault, answered 400 as
/// `{"error": "..."}`.
public enum InferenceWire {
    /// A tensor's values: numbers, or byte strings (one per element).
    public enum Values: Sendable, Equatable {
        case floats([Float])
        case bytes([Data])

        var count: Int {
            switch self {
            case .floats(let values): values.count
            case .bytes(let values): values.count
            }
        }
    }

    public struct Input: Sendable, Equatable {
        public var name: String
        public var datatype: String
        public var shape: [Int]
        public var values: Values
    }

    public struct RequestedOutput: Sendable, Equatable {
        public var name: String
        /// Answer it as bytes after the JSON (nil: as the request's `binary_data_output` says).
        public var binary: Bool?
        /// Triton's classification extension: the top `k` as `"score:index:label"` strings.
        public var classification: Int?
    }

    public struct Request: Sendable, Equatable {
        public var id: String?
        public var inputs: [Input]
        /// nil: every output the model gives.
        public var outputs: [RequestedOutput]?
        /// The request's `binary_data_output` parameter: outputs not asked for otherwise come as bytes.
        public var binaryOutputs: Bool
    }

    public struct Output: Sendable, Equatable {
        public var name: String
        public var datatype: String
        public var shape: [Int]
        public var values: Values
        public var binary: Bool

        public init(name: String, shape: [Int], values: Values, binary: Bool = false) {
            self.name = name
            self.datatype = if case .bytes = values { "BYTES" } else { "FP32" }
            self.shape = shape
            self.values = values
            self.binary = binary
        }
    }

    static func refuse(_ detail: String, field: String? = nil) -> Refusal {
        Refusal.invalid(detail, field: field)
    }

    /// Most elements one tensor may declare (a batch of 32 photos of 3 × 1024 × 1024): a shape
    /// such as [2⁶², 2] is refused before anything is counted or allocated.
    static let maxElements = 32 * 3 * 1024 * 1024

    /// The JSON part as sent. Decoded with `JSONDecoder` into typed values (tensor data straight
    /// into `[Float]`), not `JSONSerialization`, which makes an object per number: a 100 MB body of
    /// zeros would cost gigabytes.
    struct Body: Decodable {
        var id: String?
        var parameters: Parameters?
        var inputs: [Tensor]?
        var outputs: [Wanted]?

        struct Parameters: Decodable {
            var binaryDataOutput: Bool?
            enum CodingKeys: String, CodingKey { case binaryDataOutput = "binary_data_output" }
        }

        struct Tensor: Decodable {
            var name: String?
            var datatype: String?
            var shape: [Int]?
            var parameters: TensorParameters?
            var data: Data?
        }

        struct TensorParameters: Decodable {
            var binaryDataSize: Int?
            enum CodingKeys: String, CodingKey { case binaryDataSize = "binary_data_size" }
        }

        struct Wanted: Decodable {
            var name: String
            var parameters: WantedParameters?
        }

        struct WantedParameters: Decodable {
            var binaryData: Bool?
            var classification: Int?
            enum CodingKeys: String, CodingKey {
                case binaryData = "binary_data"
                case classification
            }
        }

        /// Tensor data, flat or nested in row-major order: numbers and strings, in order.
        struct Data: Decodable {
            var numbers: [Float] = []
            var strings: [String] = []
            /// An element that was neither (true, null, an object), by its position.
            var other: Int?

            init(from decoder: any Decoder) throws {
                var container = try decoder.unkeyedContainer()
                try read(&container)
            }

            private mutating func read(_ container: inout any UnkeyedDecodingContainer) throws {
                while !container.isAtEnd {
                    if var nested = try? container.nestedUnkeyedContainer() {
                        try read(&nested)
                    } else if let number = try? container.decode(Float.self) {
                        numbers.append(number)
                    } else if let text = try? container.decode(String.self) {
                        strings.append(text)
                    } else {
                        other = other ?? numbers.count + strings.count
                        _ = try container.decode(Skipped.self)
                    }
                }
            }

            private struct Skipped: Decodable { init(from decoder: any Decoder) {} }
        }
    }

    /// Reads a request body; `headerLength` is the `Inference-Header-Content-Length` header's value
    /// (nil: the whole body is JSON).
    public static func request(_ body: [UInt8], headerLength: String?) throws -> Request {
        var jsonLength = body.count
        if let headerLength {
            guard let length = Int(headerLength.trimmingCharacters(in: .whitespaces)), length >= 0,
                length <= body.count
            else {
                throw refuse(
                    "Inference-Header-Content-Length is \(headerLength.prefix(40)), not a length within the body's \(body.count) bytes",
                    field: "Inference-Header-Content-Length")
            }
            jsonLength = length
        }
        let json: Body
        do {
            json = try JSONDecoder().decode(Body.self, from: Foundation.Data(body[0..<jsonLength]))
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                throw refuse(
                    "the request is not JSON"
                        + (headerLength == nil
                            ? " (binary tensor data needs the Inference-Header-Content-Length header)" : ""))
            }
            if case .typeMismatch(_, let context) = error, context.codingPath.isEmpty {
                throw refuse("the request must be a JSON object")
            }
            throw refuse("the request's JSON does not read as an inference request: \(describe(error))")
        }
        guard let rawInputs = json.inputs, !rawInputs.isEmpty else {
            throw refuse("the request needs \"inputs\", a list of tensors", field: "inputs")
        }
        var binary = body[jsonLength...]
        var inputs: [Input] = []
        for (index, tensor) in rawInputs.enumerated() {
            let input = try self.input(tensor, index: index, binary: &binary)
            guard !inputs.contains(where: { $0.name == input.name }) else {
                throw refuse("input \(input.name) is given twice", field: input.name)
            }
            inputs.append(input)
        }
        guard binary.isEmpty else {
            throw refuse(
                "the body has \(binary.count) bytes after the tensors' binary data; binary_data_size must account for every byte"
            )
        }
        let outputs = try json.outputs?.map { output in
            let parameters = output.parameters
            if let k = parameters?.classification, k <= 0 {
                throw refuse("output \(output.name): classification must be a count above 0", field: output.name)
            }
            return RequestedOutput(
                name: output.name, binary: parameters?.binaryData, classification: parameters?.classification)
        }
        return Request(
            id: json.id, inputs: inputs, outputs: outputs, binaryOutputs: json.parameters?.binaryDataOutput ?? false)
    }

    /// Where a decoding error is, in the request's own key names.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(let type, let context):
            return
                "\(path(context.codingPath)) is not \(type == String.self ? "a string" : type == Bool.self ? "true or false" : type == Int.self ? "a whole number" : "of the right type")"
        case .valueNotFound(_, let context): return "\(path(context.codingPath)) is null"
        case .dataCorrupted(let context): return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    private static func input(_ tensor: Body.Tensor, index: Int, binary: inout ArraySlice<UInt8>) throws -> Input {
        guard let name = tensor.name, !name.isEmpty else {
            throw refuse("inputs[\(index)] needs a \"name\"", field: "inputs")
        }
        let label = "input \(name.prefix(64))"
        guard let datatype = tensor.datatype else { throw refuse("\(label) needs a \"datatype\"", field: name) }
        guard let shape = tensor.shape else { throw refuse("\(label) needs a \"shape\", a list of sizes", field: name) }
        var elements = 1
        for size in shape {
            guard size >= 0 else { throw refuse("\(label): shape \(shape) must list sizes of 0 or more", field: name) }
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow, product <= maxElements else {
                throw refuse("\(label): shape \(shape) holds more than \(maxElements) elements", field: name)
            }
            elements = product
        }
        guard datatype == "FP32" || datatype == "BYTES" else {
            throw refuse("\(label) is \(datatype.prefix(20)); Iris takes FP32 tensors and BYTES images", field: name)
        }
        let values: Values
        if let size = tensor.parameters?.binaryDataSize {
            guard size >= 0, size <= binary.count else {
                throw refuse(
                    "\(label): binary_data_size \(size) is more than the \(binary.count) bytes left in the body",
                    field: name)
            }
            let bytes = binary.prefix(size)
            binary = binary.dropFirst(size)
            values =
                datatype == "FP32"
                ? try floats(bytes, label: label, field: name) : try strings(bytes, label: label, field: name)
        } else {
            guard let data = tensor.data else {
                throw refuse("\(label) has neither \"data\" nor a binary_data_size parameter", field: name)
            }
            values = try jsonValues(data, datatype: datatype, label: label, field: name)
        }
        guard values.count == elements else {
            throw refuse(
                "\(label): shape \(shape) holds \(elements) elements but \(values.count) were sent", field: name)
        }
        return Input(name: name, datatype: datatype, shape: shape, values: values)
    }

    /// Little-endian IEEE floats, 4 bytes each.
    static func floats(_ bytes: ArraySlice<UInt8>, label: String, field: String) throws -> Values {
        guard bytes.count % 4 == 0 else {
            throw refuse(
                "\(label): \(bytes.count) bytes of FP32 data is not a whole number of 4-byte floats", field: field)
        }
        var values = [Float](repeating: 0, count: bytes.count / 4)
        var offset = bytes.startIndex
        for index in values.indices {
            let bits =
                UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
                | UInt32(bytes[offset + 3]) << 24
            values[index] = Float(bitPattern: bits)
            offset += 4
        }
        guard values.allSatisfy(\.isFinite) else {
            throw refuse("\(label) holds a value that is not a finite number", field: field)
        }
        return .floats(values)
    }

    /// BYTES elements: each a 4-byte little-endian length, then that many bytes.
    static func strings(_ bytes: ArraySlice<UInt8>, label: String, field: String) throws -> Values {
        var values: [Data] = []
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            guard bytes.endIndex - offset >= 4 else {
                throw refuse("\(label): the BYTES data ends inside an element's 4-byte length", field: field)
            }
            let length = Int(
                UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
                    | UInt32(bytes[offset + 3]) << 24)
            offset += 4
            guard length <= bytes.endIndex - offset else {
                throw refuse(
                    "\(label): element \(values.count) says \(length) bytes but \(bytes.endIndex - offset) are left",
                    field: field)
            }
            values.append(Data(bytes[offset..<offset + length]))
            offset += length
        }
        return .bytes(values)
    }

    /// JSON data: numbers for FP32; for BYTES, strings holding each element in base64 (an
    /// image's bytes are not text; tritonclient's JSON form sends strings).
    static func jsonValues(_ data: Body.Data, datatype: String, label: String, field: String) throws -> Values {
        if datatype == "FP32" {
            if let other = data.other ?? (data.strings.isEmpty ? nil : data.numbers.count) {
                throw refuse("\(label) is FP32 but element \(other) is not a number", field: field)
            }
            guard data.numbers.allSatisfy(\.isFinite) else {
                throw refuse("\(label) holds a value that is not a finite FP32 number", field: field)
            }
            return .floats(data.numbers)
        }
        if let other = data.other ?? (data.numbers.isEmpty ? nil : data.strings.count) {
            throw refuse("\(label) is BYTES but element \(other) is not a string", field: field)
        }
        var bytes: [Foundation.Data] = []
        for (index, text) in data.strings.enumerated() {
            guard let decoded = Foundation.Data(base64Encoded: text) else {
                throw refuse(
                    "\(label): element \(index) is not base64 (Iris reads BYTES in JSON as base64; or send them as binary data)",
                    field: field)
            }
            bytes.append(decoded)
        }
        return .bytes(bytes)
    }

    /// The response body, and the JSON part's length when binary data follows it (the
    /// `Inference-Header-Content-Length` header's value).
    public static func response(model: String, id: String?, outputs: [Output]) -> (body: [UInt8], headerLength: Int?) {
        var binary: [UInt8] = []
        var listed: [[String: Any]] = []
        for output in outputs {
            var entry: [String: Any] = ["name": output.name, "datatype": output.datatype, "shape": output.shape]
            if output.binary {
                let start = binary.count
                switch output.values {
                case .floats(let values):
                    binary.reserveCapacity(binary.count + values.count * 4)
                    for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { binary += $0 } }
                case .bytes(let values):
                    for value in values {
                        withUnsafeBytes(of: UInt32(value.count).littleEndian) { binary += $0 }
                        binary += value
                    }
                }
                entry["parameters"] = ["binary_data_size": binary.count - start]
            } else {
                switch output.values {
                case .floats(let values): entry["data"] = values.map { Double($0) }
                case .bytes(let values): entry["data"] = values.map { String(decoding: $0, as: UTF8.self) }
                }
            }
            listed.append(entry)
        }
        var object: [String: Any] = ["model_name": model, "outputs": listed]
        if let id { object["id"] = id }
        let json = Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
        let anyBinary = outputs.contains(where: \.binary)
        return (json + binary, anyBinary ? json.count : nil)
    }
}
