import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// The inference servers Iris may call: origins (`scheme://host[:port]`) from
/// `models.remote_allow`. A remote model whose URL is not on the list is refused when it is
/// registered and when the models folder is read, so a manifest cannot point Iris at an
/// arbitrary address.
public struct RemoteAllowlist: Sendable, Equatable {
    public let origins: Set<String>

    public static let none = RemoteAllowlist(origins: [])

    init(origins: Set<String>) { self.origins = origins }

    /// Each entry is an origin such as `http://10.0.0.5:8080`; anything else is refused.
    public init(_ entries: [String]) throws(RuntimeError) {
        var origins: Set<String> = []
        for entry in entries {
            guard let url = URL(string: entry), let origin = Self.origin(of: url), url.path.isEmpty || url.path == "/"
            else {
                throw RuntimeError(
                    operation: "models.remote_allow", message: "\(entry) is not an origin such as http://10.0.0.5:8080")
            }
            origins.insert(origin)
        }
        self.origins = origins
    }

    /// `scheme://host:port` in lower case with the scheme's default port written out, or nil
    /// for anything that is not a plain http(s) URL (user info, query and fragment are refused).
    static func origin(of url: URL) -> String? {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host?.lowercased(), !host.isEmpty,
            url.user == nil, url.password == nil, url.query == nil, url.fragment == nil
        else { return nil }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(host):\(port)"
    }

    /// The remote's base URL when its origin is allowed; a `ManifestError` naming the setting otherwise.
    func check(_ remote: ModelManifest.Remote, model: String) throws -> URL {
        guard let url = URL(string: remote.url), let origin = Self.origin(of: url) else {
            throw ManifestError(
                model: model,
                message: "remote.url \(remote.url) is not a plain http(s) URL (no user, query or fragment)")
        }
        guard origins.contains(origin) else {
            let listed = origins.isEmpty ? "it lists none" : "it lists \(origins.sorted().joined(separator: ", "))"
            throw ManifestError(
                model: model, message: "remote.url \(remote.url): \(origin) is not in models.remote_allow (\(listed))")
        }
        return url
    }
}

/// One model on a server speaking the Open Inference Protocol v2 (KServe, NVIDIA Triton,
/// Seldon MLServer): Iris prepares the tensor as for a local graph, POSTs it as JSON to
/// `/v2/models/{model}/infer` and reads the named outputs back. Requests that get no answer,
/// or 429/502/503/504, are sent again (`retries`, with a growing pause); other answers fail
/// at once with the server's own message, and the job queue's retries take over. Images
/// that wait while a request is under way go together in the next one, up to the manifest's
/// `input.max_batch` (default 1), as local graphs batch.
final class OpenInferenceClient: InferenceBackend {
    let base: URL
    let model: String
    let timeout: Double
    let retries: Int
    private let label: String
    private let batcher: Batcher

    /// One client for every remote model of the process; redirects are not followed (the
    /// allowlist was checked for the URL as given).
    private static let http = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))
    /// Largest answer read (a few big tensors).
    static let maxResponseBytes = 64 << 20

    init(base: URL, remote: ModelManifest.Remote, manifest: ModelManifest) {
        self.base = base
        let (model, timeout, retries) = (remote.model, remote.timeoutSeconds ?? 30, remote.retries ?? 2)
        // The server's address stays out of every message: job errors and events reach image
        // viewers, and `/models` shows the address to administrators only.
        let label = "remote model \(manifest.name) (\(remote.model) on its server)"
        let (input, outputs) = (manifest.input.name, manifest.outputNames)
        (self.model, self.timeout, self.retries, self.label) = (model, timeout, retries, label)
        batcher = Batcher(maxBatch: manifest.input.maxBatch ?? 1) { batch in
            let body = Self.requestBody(batch.values, shape: batch.shape, input: input, outputs: outputs)
            // An inference's errors reach image viewers (job errors, events): the server's own
            // words may name its hosts, so they are not quoted; the status is.
            let answer = try await Self.send(
                .POST, base: base, path: "/v2/models/\(model)/infer", body: body, timeout: timeout, retries: retries,
                label: label, quotingServer: false)
            let results = try Self.outputs(in: answer, wanted: outputs, label: label)
            let rows = batch.shape[0]
            for (name, tensor) in results where rows > 1 && tensor.shape.first != rows {
                throw RuntimeError(
                    operation: label,
                    message:
                        "asked for a batch of \(rows), the server answered output \(name) with shape \(tensor.shape)")
            }
            return results
        }
    }

    static func url(_ base: URL, _ path: String) -> String {
        var text = base.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return text + path
    }

    /// Runs one image (the input and output names are the manifest's, given at init).
    func infer(_ sample: [Float], shape: [Int], input: String, outputs: [String]) async throws -> [String: Tensor] {
        try await batcher.run(sample, shape: shape)
    }

    func admitted<T>(_ work: () async throws -> T) async rethrows -> T { try await batcher.admitted(work) }

    /// What the server says the model takes and gives (`GET /v2/models/{model}`), after its
    /// readiness check (`GET /v2/health/ready`).
    /// `quick` (checks at start): one try, at most 5 s, so a server that is down cannot hold
    /// up the start for long.
    func metadata(quick: Bool = false) async throws -> Metadata {
        let (timeout, retries) = quick ? (min(self.timeout, 5), 0) : (self.timeout, self.retries)
        _ = try await Self.send(
            .GET, base: base, path: "/v2/health/ready", body: nil, timeout: timeout, retries: retries, label: label)
        let answer = try await Self.send(
            .GET, base: base, path: "/v2/models/\(model)", body: nil, timeout: timeout, retries: retries, label: label)
        do {
            return try JSONDecoder().decode(Metadata.self, from: answer)
        } catch {
            throw RuntimeError(
                operation: label, message: "the model's metadata is not Open Inference Protocol v2 JSON: \(error)")
        }
    }

    private static func send(
        _ method: HTTPMethod, base: URL, path: String, body: [UInt8]?, timeout: Double, retries: Int, label: String,
        quotingServer: Bool = true
    ) async throws -> Data {
        var request = HTTPClientRequest(url: url(base, path))
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        var attempt = 0
        while true {
            attempt += 1
            let retryable: String
            do {
                let response = try await Self.http.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
                let bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
                let status = Int(response.status.code)
                if status == 200 { return Data(buffer: bytes) }
                let message =
                    "\(method.rawValue) \(path) answered HTTP \(status)"
                    + (quotingServer ? ": \(Self.serverMessage(Data(buffer: bytes)))" : "")
                guard [429, 502, 503, 504].contains(status) else {
                    throw RuntimeError(operation: label, message: message)
                }
                retryable = message
            } catch let error as RuntimeError {
                throw error
            } catch {
                retryable =
                    "\(method.rawValue) \(path) got no answer within \(timeout) s: \(Self.transportFailure(error))"
            }
            guard attempt <= retries else {
                throw RuntimeError(
                    operation: label, message: "\(retryable) (tried \(attempt) time\(attempt == 1 ? "" : "s"))")
            }
            try await Task.sleep(for: .milliseconds(250 << (attempt - 1)))
        }
    }

    /// What went wrong on the way to the server, in words that name no address: transport
    /// errors (NIO's connection errors among them) print the host and port they tried.
    static func transportFailure(_ error: any Error) -> String {
        switch error {
        case let error as HTTPClientError where error == .connectTimeout || error == .deadlineExceeded:
            return "timed out"
        case is HTTPClientError: return "the connection failed"
        default:
            let text = String(describing: error).lowercased()
            if text.contains("refused") { return "connection refused" }
            if text.contains("timeout") || text.contains("timed out") { return "timed out" }
            return "the server could not be reached"
        }
    }

    /// The `error` of an Open Inference Protocol error body, or the start of whatever came.
    static func serverMessage(_ body: Data) -> String {
        struct ErrorBody: Decodable { var error: String }
        if let decoded = try? JSONDecoder().decode(ErrorBody.self, from: body) { return decoded.error }
        let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "(empty body)" : text
    }

    /// `{"inputs": [{"name", "shape", "datatype": "FP32", "data"}], "outputs": [{"name"}]}`,
    /// written directly: a generic JSON encoder is several times slower on 150,000 floats.
    static func requestBody(_ sample: [Float], shape: [Int], input: String, outputs: [String]) -> [UInt8] {
        func quoted(_ text: String) -> String {
            String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
        }
        var text = #"{"inputs":[{"name":"# + quoted(input) + #","datatype":"FP32","shape":["#
        text += shape.map(String.init).joined(separator: ",") + #"],"data":["#
        text.reserveCapacity(text.utf8.count + sample.count * 11 + 200)
        for (index, value) in sample.enumerated() {
            if index > 0 { text += "," }
            text += value.isFinite ? value.description : "0"
        }
        text += #"]}],"outputs":["# + outputs.map { #"{"name":"# + quoted($0) + "}" }.joined(separator: ",") + "]}"
        return Array(text.utf8)
    }

    /// The wanted outputs of an inference answer, as float tensors.
    static func outputs(in body: Data, wanted: [String], label: String) throws -> [String: Tensor] {
        let answer: InferResponse
        do {
            answer = try JSONDecoder().decode(InferResponse.self, from: body)
        } catch {
            throw RuntimeError(operation: label, message: "the answer is not Open Inference Protocol v2 JSON: \(error)")
        }
        var tensors: [String: Tensor] = [:]
        for name in wanted {
            guard let output = answer.outputs.first(where: { $0.name == name }) else {
                throw RuntimeError(
                    operation: label,
                    message:
                        "the answer has no output \(name) (it has \(answer.outputs.map(\.name).joined(separator: ", ")))"
                )
            }
            guard Self.numeric.contains(output.datatype) else {
                throw RuntimeError(
                    operation: label, message: "output \(name) is \(output.datatype); Iris reads numbers")
            }
            guard output.shape.allSatisfy({ $0 >= 0 }), output.shape.reduce(1, *) == output.data.values.count else {
                throw RuntimeError(
                    operation: label,
                    message: "output \(name) has shape \(output.shape) but \(output.data.values.count) values")
            }
            tensors[name] = Tensor(shape: output.shape, values: output.data.values)
        }
        return tensors
    }

    static let numeric: Set<String> = [
        "FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64",
    ]

    struct InferResponse: Decodable {
        var outputs: [Output]
        struct Output: Decodable {
            var name: String
            var shape: [Int]
            var datatype: String
            var data: FlatNumbers
        }
    }

    /// Tensor data as the protocol allows it: flat, or nested arrays in row-major order.
    /// Anything else (strings of a BYTES output) is skipped; the datatype check reports it.
    struct FlatNumbers: Decodable {
        var values: [Float]
        private struct Skipped: Decodable { init(from decoder: any Decoder) {} }
        init(from decoder: any Decoder) throws {
            var values: [Float] = []
            func read(_ container: inout any UnkeyedDecodingContainer) throws {
                while !container.isAtEnd {
                    if let number = try? container.decode(Double.self) {
                        values.append(Float(number))
                    } else if var nested = try? container.nestedUnkeyedContainer() {
                        try read(&nested)
                    } else {
                        _ = try container.decode(Skipped.self)
                    }
                }
            }
            var container = try decoder.unkeyedContainer()
            try read(&container)
            self.values = values
        }
    }

    /// `GET /v2/models/{model}`: the tensors a model takes and gives.
    struct Metadata: Decodable {
        var name: String
        var inputs: [TensorMetadata]?
        var outputs: [TensorMetadata]?
    }

    struct TensorMetadata: Decodable {
        var name: String
        var datatype: String
        var shape: [Int]
    }

    /// Checks what the server says against the manifest, as a local graph is checked.
    static func check(_ metadata: Metadata, against manifest: ModelManifest, labels: Int) throws(ManifestError) {
        func fail(_ message: String) -> ManifestError {
            ManifestError(model: manifest.name, message: "the server's \(metadata.name): \(message)")
        }
        let input = manifest.input
        if let inputs = metadata.inputs, !inputs.isEmpty {
            guard let spec = inputs.first(where: { $0.name == input.name }) else {
                throw fail("takes \(inputs.map(\.name).joined(separator: ", ")), not \(input.name)")
            }
            guard spec.datatype == "FP32" else { throw fail("input \(input.name) is \(spec.datatype), not FP32") }
            guard spec.shape.count == 4 else {
                throw fail("input \(input.name) has \(spec.shape.count) dimensions, not 4 (\(input.layout.rawValue))")
            }
            let (channels, height, width) =
                input.layout == .nchw
                ? (spec.shape[1], spec.shape[2], spec.shape[3]) : (spec.shape[3], spec.shape[1], spec.shape[2])
            func agrees(_ served: Int, _ wanted: Int) -> Bool { served <= 0 || served == wanted }
            guard agrees(channels, 3), agrees(height, input.height), agrees(width, input.width) else {
                throw fail(
                    "input \(input.name) is \(spec.shape), which does not take 3×\(input.height)×\(input.width) in \(input.layout.rawValue) order"
                )
            }
            if let batch = spec.shape.first, batch > 0, batch < (input.maxBatch ?? 1) {
                throw fail(
                    "input \(input.name) takes batches of \(batch), but input.max_batch is \(input.maxBatch ?? 1)")
            }
        }
        if let outputs = metadata.outputs, !outputs.isEmpty {
            for (role, name) in manifest.outputs.sorted(by: { $0.key < $1.key }) {
                guard let spec = outputs.first(where: { $0.name == name }) else {
                    throw fail(
                        "outputs.\(role) names \(name), which the server's model does not give (it gives \(outputs.map(\.name).joined(separator: ", ")))"
                    )
                }
                if role == "scores", let classes = spec.shape.last, classes > 0, classes != labels {
                    throw fail(
                        "scores \(classes) classes but \(manifest.labels?.description ?? "the labels") lists \(labels)")
                }
            }
        }
    }
}
