import CONNXRuntime
import Foundation
import NIOConcurrencyHelpers

/// A failure reported by ONNX Runtime, with its own message, or a failure to load it.
public struct RuntimeError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let message: String
    public var description: String { "\(operation): \(message)" }
}

/// ONNX Runtime, loaded once per process from a `libonnxruntime.so` (Debian ships none;
/// set-up installs the one inside PyPI's `onnxruntime` wheel). Holds the API table and one
/// environment with one CPU memory arena, which every session shares.
public final class ONNXRuntime: @unchecked Sendable {
    let api: OpaquePointer
    let env: OpaquePointer
    let cpuMemory: OpaquePointer
    let allocator: OpaquePointer
    /// The library's version, e.g. "1.32.0".
    public let version: String
    public let libraryPath: String

    private static let loaded = NIOLockedValueBox<[String: ONNXRuntime]>([:])

    /// The runtime from `path`, loaded on first use. The environment lives for the process.
    public static func load(from path: String) throws -> ONNXRuntime {
        let resolved = URL(fileURLWithPath: path).standardizedFileURL.path
        return try loaded.withLockedValue { cache in
            if let runtime = cache[resolved] { return runtime }
            guard FileManager.default.fileExists(atPath: resolved) else {
                throw RuntimeError(
                    operation: "loading ONNX Runtime",
                    message:
                        "\(resolved) does not exist; run scripts/prepare-models.sh (part of `make run`) or set ml.onnxruntime"
                )
            }
            let runtime = try ONNXRuntime(path: resolved)
            cache[resolved] = runtime
            return runtime
        }
    }

    private init(path: String) throws {
        var error = [CChar](repeating: 0, count: 512)
        guard let table = iris_ort_open(path, &error, error.count) else {
            throw RuntimeError(
                operation: "loading \(path)",
                message: String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        api = table
        libraryPath = path
        version = iris_ort_version().map { String(cString: $0) } ?? "unknown"
        var env: OpaquePointer?
        try Self.check(table, "CreateEnv", iris_ort_create_env(table, Int32(IRIS_ORT_LOG_ERROR), "iris", &env))
        self.env = env!
        var memory: OpaquePointer?
        try Self.check(
            table, "CreateCpuMemoryInfo",
            iris_ort_create_cpu_memory_info(
                table, Int32(IRIS_ORT_ARENA_ALLOCATOR), Int32(IRIS_ORT_MEM_DEFAULT), &memory))
        cpuMemory = memory!
        // One CPU arena for every session (each session asks for it with
        // session.use_env_allocators). With an arena per session each keeps its own peak
        // for good; shared, the process holds the peak of what runs at once: in a Python
        // replay of the four bundled graphs' runs, 309 MB instead of 484 MB.
        try Self.check(
            table, "CreateAndRegisterAllocator", iris_ort_create_and_register_allocator(table, env, memory, nil))
        var allocator: OpaquePointer?
        try Self.check(table, "GetAllocatorWithDefaultOptions", iris_ort_default_allocator(table, &allocator))
        self.allocator = allocator!
    }

    /// Turns a returned status into a thrown `RuntimeError` carrying ORT's message; releases it.
    static func check(_ api: OpaquePointer, _ operation: String, _ status: OpaquePointer?) throws {
        guard let status else { return }
        defer { iris_ort_release_status(api, status) }
        let message = iris_ort_error_message(api, status).map { String(cString: $0) } ?? "unknown error"
        let code = iris_ort_error_code(api, status)
        throw RuntimeError(operation: operation, message: code == 0 ? message : "\(message) (ORT error \(code))")
    }

    func check(_ operation: String, _ status: OpaquePointer?) throws {
        try Self.check(api, operation, status)
    }
}
