public import IrisCore
import NIOConcurrencyHelpers

/// Where idle workers wait for work: rung by in-process enqueues and by PostgreSQL
/// notifications, and the hand-off point for new jobs.
///
/// A waiter passes the generation it read before it looked for work; if a ring came
/// since, `wait` returns at once, so no ring between "found nothing" and "sleep" is lost.
/// Workers also wake on a timer, so a missed ring only delays.
///
/// Hand-off: an enqueue that finds an idle in-process worker serving the job's queue
/// reserves it, stores the job already claimed by that worker (one statement instead of
/// an insert plus a claim), and hands it over. Only idle workers are handed jobs, so the
/// queue's priority order matters only when there is a backlog, where it is kept.
final class Doorbell: Sendable {
    public init() {}

    private struct Waiter {
        public var queues: [String]
        public var worker: String?
        public var continuation: CheckedContinuation<Job?, Never>
    }

    private struct State {
        public var generation = 0
        public var waiters: [Int: Waiter] = [:]
        public var nextID = 0
    }

    /// An idle worker taken out of the waiting room; `deliver` must be called once.
    public struct Handoff: Sendable {
        public let worker: String
        fileprivate let continuation: CheckedContinuation<Job?, Never>

        /// Gives the worker its job, or nil to send it back to looking for work.
        public func deliver(_ job: Job?) { continuation.resume(returning: job) }
    }

    private let state = NIOLockedValueBox(State())

    public var generation: Int { state.withLockedValue { $0.generation } }

    /// Wakes every waiter, or only the longest-waiting one (`all: false`: one new job needs
    /// one worker; waking them all would send the rest to look for nothing).
    public func ring(all: Bool = true) {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Job?, Never>] in
            state.generation += 1
            if all {
                defer { state.waiters.removeAll() }
                return state.waiters.values.map(\.continuation)
            }
            guard let first = state.waiters.keys.min(), let waiter = state.waiters.removeValue(forKey: first) else {
                return []
            }
            return [waiter.continuation]
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    /// Takes the longest-idle worker that serves `queue`, if any.
    public func reserve(queue: String) -> Handoff? {
        state.withLockedValue { state in
            guard
                let id = state.waiters.filter({ $0.value.worker != nil && $0.value.queues.contains(queue) }).keys.min(),
                let waiter = state.waiters.removeValue(forKey: id), let worker = waiter.worker
            else { return nil }
            return Handoff(worker: worker, continuation: waiter.continuation)
        }
    }

    /// Returns after a ring newer than `generation`, after `seconds`, or on cancellation;
    /// with a job when one was handed to `worker` (which serves `queues`).
    @discardableResult
    public func wait(since generation: Int, seconds: Double, queues: [String] = [], worker: String? = nil) async -> Job?
    {
        await withTaskGroup(of: Job?.self) { group in
            group.addTask { await self.waitForRing(since: generation, queues: queues, worker: worker) }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return nil
            }
            var handed: Job?
            if let first = await group.next(), let job = first { handed = job }
            group.cancelAll()
            // A reserved waiter is answered by its hand-off even after the timer: never drop that job.
            for await result in group { if let job = result { handed = job } }
            return handed
        }
    }

    private func waitForRing(since generation: Int, queues: [String], worker: String?) async -> Job? {
        let id = state.withLockedValue { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Job?, Never>) in
                let resumeNow = state.withLockedValue { state -> Bool in
                    if state.generation != generation || Task.isCancelled { return true }
                    state.waiters[id] = Waiter(queues: queues, worker: worker, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume(returning: nil) }
            }
        } onCancel: {
            let waiter = state.withLockedValue { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(returning: nil)
        }
    }
}
