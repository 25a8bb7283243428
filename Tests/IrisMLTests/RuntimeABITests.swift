import CONNXRuntime
import Foundation
import IrisImaging
@testable import IrisML
import IrisTesting
import Testing

/// Every ONNX Runtime slot Iris declares (CONNXRuntime.h), called against the real library.
@Suite struct RuntimeABITests {
    /// iris_ort_open, the version string, CreateEnv, CreateCpuMemoryInfo, GetAllocatorWithDefaultOptions.
    @Test func loadsTheLibraryFromPyPI() throws {
        let runtime = try TestModels.runtime()
        #expect(runtime.version == "1.32.0")
        // Loading again gives the same runtime (one environment a process).
        #expect(try TestModels.runtime() === runtime)
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
        #expect(session.outputs == [
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
        let batch = try session.run(["image": Tensor(shape: [2, 3, 224, 224], values: one + two)], outputs: ["logits", "embedding"])
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
            let session = try InferenceSession(runtime: runtime, path: path, threads: .init(intraOp: 2, spinning: spinning))
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
            runtime: runtime, path: TestModels.folder.appendingPathComponent("mobilenet-v2.onnx").path, threads: .init(intraOp: 1))
        #expect {
            try session.run(["image": Tensor(shape: [1, 3, 10, 10], values: Array(repeating: 0, count: 300))], outputs: ["logits"])
        } throws: { error in
            let description = "\(error)"
            return description.hasPrefix("Run:") && description.contains("dimension")
        }
    }
}
