import NIOConcurrencyHelpers

/// Wakes idle workers when work may be waiting: rung by in-process enqueues and by
/// PostgreSQL notifications. Workers also wake on a timer, so a missed ring only delays.
///
/// A waiter passes the generation it read before it looked for work; if a ring came
/// since, `wait` returns at once, so no ring between "found nothing" and "sleep" is lost.
final class Doorbell: Sendable {
    private struct State {
        var generation = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = NIOLockedValueBox(State())

    var generation: Int { state.withLockedValue { $0.generation } }

    /// Wakes every waiter, or only the longest-waiting one (`all: false`: one new job needs
    /// one worker; waking them all would send the rest to look for nothing).
    func ring(all: Bool = true) {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.generation += 1
            if all {
                defer { state.waiters.removeAll() }
                return Array(state.waiters.values)
            }
            guard let first = state.waiters.keys.min() else { return [] }
            return [state.waiters.removeValue(forKey: first)!]
        }
        waiters.forEach { $0.resume() }
    }

    /// Returns after a ring newer than `generation`, after `seconds`, or on cancellation.
    func wait(since generation: Int, seconds: Double) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForRing(since: generation) }
            group.addTask { try? await Task.sleep(for: .seconds(seconds)) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForRing(since generation: Int) async {
        let id = state.withLockedValue { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { state -> Bool in
                    if state.generation != generation || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLockedValue { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}

/// A small lock-guarded value, for state shared between a job and its supervisor.
final class NIOLockedState<Value: Sendable>: Sendable {
    private let box: NIOLockedValueBox<Value>
    init(_ value: Value) { box = NIOLockedValueBox(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { box.withLockedValue(body) }
}
