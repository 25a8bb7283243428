import CONNXRuntime
import Foundation
import IrisImaging
import IrisTesting
import Testing

@testable import IrisML

/// Every ONNX Runtime slot Iris declares (CONNXRuntime.h), called against the real library.
@Suite struct RuntimeABITests {
    /// iris_ort_open, the version string, CreateEnv, CreateCpuMemoryInfo, GetAllocatorWithDefaultOptions,
    /// CreateAndRegisterAllocator.
    @Test func loadsTheLibraryFromPyPI() throws {
        let runtime = try TestModels.runtime()
        #expect(runtime.version == "1.32.0")
        // Loading again gives the same runtime (one environment a process).
        #expect(try TestModels.runtime() === runtime)
    }

    /// CreateAndRegisterAllocator (at load) and session.use_env_allocators: a second session
    /// runs in the memory the first one's run left in the shared arena. With an arena per
    /// session the second run would take its own ~150 MB. Other tests run beside this one in
    /// the same process (and may hold the shared arena for a moment), so the growth is
    /// measured up to five times.
    @Test func sessionsShareOneArena() async throws {
        let runtime = try TestModels.runtime()
        let path = TestModels.folder.appendingPathComponent("ppocr-v4-det.onnx").path
        let input = ["x": Tensor(shape: [1, 3, 640, 960], values: [Float](repeating: 0.25, count: 3 * 640 * 960))]
        var growths: [Int] = []
        for _ in 0..<5 {
            let first = try InferenceSession(runtime: runtime, path: path, threads: .init(intraOp: 2), shapesVary: true)
            _ = try first.run(input, outputs: ["sigmoid_0.tmp_0"])
            let second = try InferenceSession(
                runtime: runtime, path: path, threads: .init(intraOp: 2), shapesVary: true)
            let before = try Self.residentMB()
            _ = try second.run(input, outputs: ["sigmoid_0.tmp_0"])
            growths.append(try Self.residentMB() - before)
            if growths.last! < 50 { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("the second session's run grew the process by \(growths) MB")
    }

    /// The process's resident memory now, from /proc/self/statm. Unreadable is a failure, not
    /// a zero: a growth of 0 − 0 would pass the test without measuring anything.
    static func residentMB() throws -> Int {
        let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]), pages > 0 else {
            throw RuntimeError(operation: "read /proc/self/statm", message: "no resident size in \(fields)")
        }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }

    @Test func aMissingLibraryIsReportedWithWhatToDo() {
        #expect {
            try ONNXRuntime.load(from: "/nonexistent/libonnxruntime.so")
        } throws: { error in
            "\(error)".contains("prepare-models.sh")
        }
    }

    /// CreateSessionOptions, SetSessionGraphOptimizationLevel, SetIntra/InterOpNumThreads,
    /// CreateSession, ReleaseSessionOptions, SessionGet{Input,Output}{Count,Name,TypeInfo},
    /// AllocatorFree, CastTypeInfoToTensorInfo, GetTensorElementType, GetDimensionsCount,
    /// GetDimensions, ReleaseTypeInfo, ReleaseSession.
    @Test func describesAGraphsInputsAndOutputs() throws {
        let session = try InferenceSession(
            runtime: try TestModels.runtime(), path: TestModels.folder.appendingPathComponent("mobilenet-v2.onnx").path,
            threads: .init(intraOp: 1))
        #expect(session.inputs == [TensorSpec(name: "image", elementType: .float, shape: [-1, 3, 224, 224])])
        #expect(
            session.outputs == [
                TensorSpec(name: "logits", elementType: .float, shape: [-1, 1000]),
                TensorSpec(name: "embedding", elementType: .float, shape: [-1, 1280]),
            ])
    }

    /// CreateTensorWithDataAsOrtValue, Run, GetTensorTypeAndShape, GetTensorMutableData,
    /// ReleaseTensorTypeAndShapeInfo, ReleaseValue: a batch of two gives two rows, and each
    /// row is what the same image gives alone.
    @Test func runsABatchAndEachRowMatchesASingleRun() throws {
        let session = try InferenceSession(
            runtime: try TestModels.runtime(), path: TestModels.folder.appendingPathComponent("mobilenet-v2.onnx").path,
            threads: .init(intraOp: 2))
        let count = 3 * 224 * 224
        let one: [Float] = (0..<count).map { index in Float(index % 97) / 97 - 0.5 }
        let two: [Float] = (0..<count).map { index in Float(index % 31) / 31 - 0.5 }
        let batch = try session.run(
            ["image": Tensor(shape: [2, 3, 224, 224], values: one + two)], outputs: ["logits", "embedding"])
        #expect(batch["logits"]?.shape == [2, 1000])
        #expect(batch["embedding"]?.shape == [2, 1280])
        let alone = try session.run(["image": Tensor(shape: [1, 3, 224, 224], values: two)], outputs: ["logits"])
        let second = Array(batch["logits"]!.values[1000...])
        let difference = zip(second, alone["logits"]!.values).map { abs($0 - $1) }.max()!
        #expect(difference < 1e-3)
        #expect(batch["logits"]!.values[..<1000] != batch["logits"]!.values[1000...])
    }

    /// AddSessionConfigEntry: ORT takes a known key either way and refuses an empty one in
    /// its own words (so the slot is the one declared, not a neighbour).
    @Test func sessionConfigEntriesReachTheRuntime() throws {
        let runtime = try TestModels.runtime()
        let path = TestModels.folder.appendingPathComponent("mobilenet-v2.onnx").path
        for spinning in [false, true] {
            let session = try InferenceSession(
                runtime: runtime, path: path, threads: .init(intraOp: 2, spinning: spinning))
            #expect(session.inputs.first?.name == "image")
        }
        var options: OpaquePointer?
        try runtime.check("CreateSessionOptions", iris_ort_create_session_options(runtime.api, &options))
        defer { iris_ort_release_session_options(runtime.api, options) }
        #expect {
            try runtime.check("AddSessionConfigEntry", iris_ort_add_session_config_entry(runtime.api, options, "", "1"))
        } throws: { error in
            "\(error)".lowercased().contains("config")
        }
    }

    /// DisableMemPattern: a text detector made with it takes pages of different shapes and
    /// answers what it answers without it. (What it saves, memory, shows in `make bench`.)
    @Test func sessionsForVaryingShapesGiveTheSameAnswers() throws {
        let runtime = try TestModels.runtime()
        let path = TestModels.folder.appendingPathComponent("ppocr-v4-det.onnx").path
        let planned = try InferenceSession(runtime: runtime, path: path, threads: .init(intraOp: 2))
        let unplanned = try InferenceSession(runtime: runtime, path: path, threads: .init(intraOp: 2), shapesVary: true)
        for (height, width) in [(96, 160), (160, 96)] {
            let values: [Float] = (0..<3 * height * width).map { index in Float((index / width) % 16 < 8 ? 0.9 : -0.9) }
            let input = ["x": Tensor(shape: [1, 3, height, width], values: values)]
            let one = try #require(try planned.run(input, outputs: ["sigmoid_0.tmp_0"])["sigmoid_0.tmp_0"])
            let other = try #require(try unplanned.run(input, outputs: ["sigmoid_0.tmp_0"])["sigmoid_0.tmp_0"])
            #expect(one.shape == [1, 1, height, width] && other.shape == one.shape)
            #expect(zip(one.values, other.values).map { abs($0 - $1) }.max()! < 1e-5)
        }
    }

    /// GetErrorCode, GetErrorMessage, ReleaseStatus: ORT's own words reach the caller.
    @Test func errorsCarryTheRuntimesMessage() throws {
        let runtime = try TestModels.runtime()
        let notAModel = FileManager.default.temporaryDirectory.appendingPathComponent("iris-not-a-model-\(UUID()).onnx")
        try Data("this is not a protobuf".utf8).write(to: notAModel)
        defer { try? FileManager.default.removeItem(at: notAModel) }
        #expect {
            try InferenceSession(runtime: runtime, path: notAModel.path, threads: .init(intraOp: 1))
        } throws: { error in
            let description = "\(error)"
            return description.contains("CreateSession") && description.contains("ORT error") && description.count > 40
        }
        let session = try InferenceSession(
            runtime: runtime, path: TestModels.folder.appendingPathComponent("mobilenet-v2.onnx").path,
            threads: .init(intraOp: 1))
        #expect {
            try session.run(
                ["image": Tensor(shape: [1, 3, 10, 10], values: Array(repeating: 0, count: 300))], outputs: ["logits"])
        } throws: { error in
            let description = "\(error)"
            return description.hasPrefix("Run:") && description.contains("dimension")
        }
    }
}
