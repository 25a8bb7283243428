import NIOConcurrencyHelpers
import SQLKit

/// SQLite's writers, queued in-process and committed in groups.
///
/// SQLite allows one writer at a time and, with `synchronous=FULL`, every commit waits
/// for the disk. Writers that arrive while another commit is in flight wait in a queue;
/// the next leader runs all of them in one `BEGIN IMMEDIATE … COMMIT`, each inside its own
/// `SAVEPOINT` (so one that throws is rolled back alone), and answers each only after the
/// shared COMMIT is durable. Many small writes (job claims, completions, enqueues, upload
/// rows) then share one disk flush instead of queueing for one each.
///
/// Queueing here also keeps writers from busy-waiting on SQLite's lock while holding the
/// threads the lock holder needs (with 2 threads that deadlocks until the busy timeout).
final class CommitGroup: Sendable {
    typealias Body = @Sendable (any SQLDatabase) async throws -> any Sendable

    private struct Entry: Sendable {
        let body: Body
        let done: CheckedContinuation<any Sendable, any Error>
        /// Committed in a batch of its own (for comparisons with plain transactions).
        let alone: Bool
        /// Wrapped in a savepoint so that, when it throws, its writes are undone alone. Bodies
        /// whose statements are each atomic on their own (`IrisDatabase.write`) skip it.
        let savepoint: Bool
    }

    private struct State {
        var leading = false
        var waiting: [Entry] = []
    }

    /// The most writers one commit takes, so no writer waits behind an unbounded batch.
    static let maxBatch = 64

    private let state = NIOLockedValueBox(State())
    private let connection: @Sendable (@escaping @Sendable (any SQLDatabase) async throws -> Void) async throws -> Void

    init(
        connection:
            @escaping @Sendable (@escaping @Sendable (any SQLDatabase) async throws -> Void) async throws -> Void
    ) {
        self.connection = connection
    }

    func run<T: Sendable>(
        alone: Bool = false, savepoint: Bool = true, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        let value = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<any Sendable, any Error>) in
            let lead = state.withLockedValue { state -> Bool in
                state.waiting.append(
                    Entry(body: { try await body($0) }, done: continuation, alone: alone, savepoint: savepoint))
                if state.leading { return false }
                state.leading = true
                return true
            }
            if lead { Task { await self.drain() } }
        }
        guard let typed = value as? T else { throw CommitGroupError.unexpectedResult }
        return typed
    }

    private func drain() async {
        while true {
            let batch = state.withLockedValue { state -> [Entry] in
                var batch: [Entry] = []
                while let next = state.waiting.first, batch.count < Self.maxBatch {
                    if next.alone && !batch.isEmpty { break }
                    batch.append(state.waiting.removeFirst())
                    if next.alone { break }
                }
                if batch.isEmpty { state.leading = false }
                return batch
            }
            if batch.isEmpty { return }
            await commit(batch)
        }
    }

    private func commit(_ batch: [Entry]) async {
        let outcomes = NIOLockedValueBox<[Result<any Sendable, any Error>]>([])
        do {
            try await connection { db in
                try await db.raw("BEGIN IMMEDIATE").run()
                do {
                    for entry in batch {
                        outcomes.withLockedValue { $0.append(.failure(CommitGroupError.notRun)) }
                        let result: Result<any Sendable, any Error>
                        if batch.count == 1 {
                            result = .success(try await entry.body(db))
                        } else if !entry.savepoint {
                            do { result = .success(try await entry.body(db)) } catch { result = .failure(error) }
                        } else {
                            try await db.raw("SAVEPOINT iris_group").run()
                            do {
                                let value = try await entry.body(db)
                                try await db.raw("RELEASE iris_group").run()
                                result = .success(value)
                            } catch {
                                try await db.raw("ROLLBACK TO iris_group").run()
                                try await db.raw("RELEASE iris_group").run()
                                result = .failure(error)
                            }
                        }
                        outcomes.withLockedValue { $0[$0.count - 1] = result }
                    }
                    try await db.raw("COMMIT").run()
                } catch {
                    try? await db.raw("ROLLBACK").run()
                    throw error
                }
            }
        } catch {
            // Nothing was committed: every writer of the batch hears why.
            for entry in batch { entry.done.resume(throwing: error) }
            return
        }
        for (entry, outcome) in zip(batch, outcomes.withLockedValue { $0 }) { entry.done.resume(with: outcome) }
    }
}

enum CommitGroupError: Error {
    case notRun, unexpectedResult
}
