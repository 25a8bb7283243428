import Dispatch
import NIOConcurrencyHelpers

/// Runs one session's inferences on a serial queue of its own and batches across callers:
/// while a run is under way, samples that arrive wait and go together in the next run (up
/// to `maxBatch`). A lone request is never delayed to wait for company.
final class Batcher: Sendable {
    typealias Outputs = [String: Tensor]

    private struct Pending {
        let sample: [Float]
        let shape: [Int]
        let continuation: CheckedContinuation<Outputs, any Error>
    }

    private let session: InferenceSession
    private let input: String
    private let outputs: [String]
    private let maxBatch: Int
    private let queue: DispatchQueue
    private let state = NIOLockedValueBox<(pending: [Pending], draining: Bool)>(([], false))
    private let sizes = NIOLockedValueBox<[Int]>([])
    /// Batch sizes run so far (tests and benchmarks read it).
    var batchSizes: [Int] { sizes.withLockedValue { $0 } }

    init(session: InferenceSession, input: String, outputs: [String], maxBatch: Int, label: String) {
        self.session = session
        self.input = input
        self.outputs = outputs
        self.maxBatch = max(1, maxBatch)
        queue = DispatchQueue(label: "iris.ml.\(label)")
    }

    /// Runs one sample of `shape` (without the batch dimension); answers its outputs, with
    /// batch dimension 1. Only samples of the same shape share a run.
    func run(_ sample: [Float], shape: [Int]) async throws -> Outputs {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLockedValue { state in
                state.pending.append(Pending(sample: sample, shape: shape, continuation: continuation))
                if state.draining { return false }
                state.draining = true
                return true
            }
            if start { queue.async { self.drain() } }
        }
    }

    private func drain() {
        while true {
            let batch: [Pending] = state.withLockedValue { state in
                let shape = state.pending.first?.shape
                let taken = Array(state.pending.prefix(maxBatch).prefix { $0.shape == shape })
                state.pending.removeFirst(taken.count)
                if taken.isEmpty { state.draining = false }
                return taken
            }
            if batch.isEmpty { return }
            sizes.withLockedValue { $0.append(batch.count) }
            do {
                let values = batch.flatMap(\.sample)
                let results = try session.run([input: Tensor(shape: [batch.count] + batch[0].shape, values: values)], outputs: outputs)
                for (index, pending) in batch.enumerated() {
                    pending.continuation.resume(returning: results.mapValues { Self.slice($0, index: index, of: batch.count) })
                }
            } catch {
                for pending in batch { pending.continuation.resume(throwing: error) }
            }
        }
    }

    /// Row `index` of a tensor whose first dimension is the batch.
    static func slice(_ tensor: Tensor, index: Int, of count: Int) -> Tensor {
        guard tensor.shape.first == count, count > 0 else { return tensor }
        let size = tensor.values.count / count
        return Tensor(shape: [1] + tensor.shape.dropFirst(), values: Array(tensor.values[index * size..<(index + 1) * size]))
    }
}
