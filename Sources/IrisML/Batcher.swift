import Dispatch
import NIOConcurrencyHelpers

/// Batches inferences across callers: while a run is under way, samples that arrive wait and
/// go together in the next run (up to `maxBatch`). A lone request is never delayed to wait for
/// company. A local session runs on a serial queue of its own (ORT's run blocks its thread),
/// loaded by the first batch that needs it; a remote model's batch is one request to its server.
///
/// What it holds is bounded: a batch is at most `maxBatch` samples, and `admitted` lets at most
/// two batches' worth of callers (one running, the next filling) prepare and queue samples at
/// once; the rest wait before they decode anything.
final class Batcher: Sendable {
    typealias Outputs = [String: Tensor]

    /// What runs one batch (the tensor's first dimension is the batch).
    enum Runner: Sendable {
        case local(OnDemandSession, input: String, outputs: [String], queue: DispatchQueue)
        case remote(@Sendable (_ batch: Tensor) async throws -> Outputs)
    }

    private struct Pending {
        let sample: [Float]
        let shape: [Int]
        let continuation: CheckedContinuation<Outputs, any Error>
    }

    private let runner: Runner
    private let maxBatch: Int
    /// Callers admitted at once (two batches), and those waiting for a place in order.
    private let admissions: Int
    private let admission = NIOLockedValueBox<(admitted: Int, waiting: [CheckedContinuation<Void, Never>])>((0, []))
    private let state = NIOLockedValueBox<(pending: [Pending], draining: Bool)>(([], false))
    private let sizes = NIOLockedValueBox<[Int]>([])
    /// Batch sizes run so far (tests and benchmarks read it).
    var batchSizes: [Int] { sizes.withLockedValue { $0 } }

    init(session: OnDemandSession, input: String, outputs: [String], maxBatch: Int, label: String) {
        runner = .local(session, input: input, outputs: outputs, queue: DispatchQueue(label: "iris.ml.\(label)"))
        self.maxBatch = max(1, maxBatch)
        admissions = 2 * self.maxBatch
    }

    init(maxBatch: Int, remote: @escaping @Sendable (_ batch: Tensor) async throws -> Outputs) {
        runner = .remote(remote)
        self.maxBatch = max(1, maxBatch)
        admissions = 2 * self.maxBatch
    }

    /// Runs `work` (a caller's decoding and its runs) once fewer than two batches' worth of
    /// callers are inside; later callers wait their turn, holding nothing but their request.
    func admitted<T>(_ work: () async throws -> T) async rethrows -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let enter = admission.withLockedValue { admission in
                guard admission.admitted < admissions else {
                    admission.waiting.append(continuation)
                    return false
                }
                admission.admitted += 1
                return true
            }
            if enter { continuation.resume() }
        }
        defer {
            // The place passes to the first waiting caller, or is given up.
            let next = admission.withLockedValue { admission -> CheckedContinuation<Void, Never>? in
                if admission.waiting.isEmpty {
                    admission.admitted -= 1
                    return nil
                }
                return admission.waiting.removeFirst()
            }
            next?.resume()
        }
        return try await work()
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
            guard start else { return }
            switch runner {
            case .local(let graph, let input, let outputs, let queue):
                queue.async {
                    while let batch = self.nextBatch() {
                        self.answer(
                            batch,
                            with: Result {
                                try graph.withSession { try $0.run([input: Self.tensor(batch)], outputs: outputs) }
                            })
                    }
                }
            case .remote(let run):
                Task {
                    while let batch = self.nextBatch() {
                        do {
                            self.answer(batch, with: .success(try await run(Self.tensor(batch))))
                        } catch {
                            self.answer(batch, with: .failure(error))
                        }
                    }
                }
            }
        }
    }

    /// The next batch: the longest run of waiting samples of one shape, up to `maxBatch`;
    /// nil (and draining over) when none wait.
    private func nextBatch() -> [Pending]? {
        let batch: [Pending] = state.withLockedValue { state in
            let shape = state.pending.first?.shape
            let taken = Array(state.pending.prefix(maxBatch).prefix { $0.shape == shape })
            state.pending.removeFirst(taken.count)
            if taken.isEmpty { state.draining = false }
            return taken
        }
        if batch.isEmpty { return nil }
        sizes.withLockedValue { $0.append(batch.count) }
        return batch
    }

    private static func tensor(_ batch: [Pending]) -> Tensor {
        Tensor(shape: [batch.count] + batch[0].shape, values: batch.flatMap(\.sample))
    }

    private func answer(_ batch: [Pending], with result: Result<Outputs, any Error>) {
        switch result {
        case .success(let results):
            for (index, pending) in batch.enumerated() {
                pending.continuation.resume(
                    returning: results.mapValues { Self.slice($0, index: index, of: batch.count) })
            }
        case .failure(let error):
            for pending in batch { pending.continuation.resume(throwing: error) }
        }
    }

    /// Row `index` of a tensor whose first dimension is the batch.
    static func slice(_ tensor: Tensor, index: Int, of count: Int) -> Tensor {
        guard tensor.shape.first == count, count > 0 else { return tensor }
        let size = tensor.values.count / count
        return Tensor(
            shape: [1] + tensor.shape.dropFirst(), values: Array(tensor.values[index * size..<(index + 1) * size]))
    }
}
