import Dispatch
import Foundation
import Logging
import NIOConcurrencyHelpers

/// One local graph's ONNX Runtime session, made when a run first needs it and released after
/// `idleUnload` seconds without a run, so a model nobody uses holds no memory: the four bundled
/// models' sessions are most of an idle server's resident memory (docs/OPERATIONS.md).
///
/// A run holds the session through `withSession`; the session is released only when no run
/// holds it (a count under the lock, and Swift's reference count behind it), so a release never
/// pulls the C session from under a run, and a run after a release loads it again.
final class OnDemandSession: Sendable {
    let runtime: ONNXRuntime
    let path: String
    let threads: InferenceSession.Threads
    let shapesVary: Bool
    /// Seconds without a run after which the session is released; nil keeps it once made.
    let idleUnload: TimeInterval?
    /// Called after a release, outside every lock (the server hands freed memory back).
    let afterUnload: @Sendable () -> Void
    let logger: Logger

    private struct State {
        var session: InferenceSession?
        /// Runs holding the session now.
        var users = 0
        var lastUse = ContinuousClock.now
        /// Whether an idle check is waiting to run (at most one at a time).
        var checkPending = false
        /// Sessions made for runs so far (tests read it).
        var loads = 0
    }

    private let state = NIOLockedValueBox(State())
    /// One load at a time: a second run waits for the first one's session instead of making its own.
    private let loading = NIOLock()

    init(
        runtime: ONNXRuntime, path: String, threads: InferenceSession.Threads, shapesVary: Bool,
        idleUnload: TimeInterval?, afterUnload: @escaping @Sendable () -> Void = {}, logger: Logger
    ) {
        self.runtime = runtime
        self.path = path
        self.threads = threads
        self.shapesVary = shapesVary
        self.idleUnload = idleUnload.flatMap { $0 > 0 ? $0 : nil }
        self.afterUnload = afterUnload
        self.logger = logger
    }

    /// A new session of the graph, not kept (the start-up checks read its inputs and outputs).
    func make() throws -> InferenceSession {
        try InferenceSession(runtime: runtime, path: path, threads: threads, shapesVary: shapesVary)
    }

    /// Whether the session is in memory now.
    var isLoaded: Bool { state.withLockedValue { $0.session != nil } }
    /// Sessions made for runs so far.
    var loads: Int { state.withLockedValue { $0.loads } }

    /// Runs `body` with the session, loading it first if it is not in memory. Blocks while
    /// the session loads (a fraction of a second to a few seconds per graph) and while `body` runs.
    func withSession<T>(_ body: (InferenceSession) throws -> T) throws -> T {
        let session = try acquire()
        defer { release() }
        return try body(session)
    }

    private func acquire() throws -> InferenceSession {
        if let session = holdLoaded() { return session }
        return try loading.withLock {
            if let session = holdLoaded() { return session }
            let started = ContinuousClock.now
            let session = try make()
            state.withLockedValue { state in
                state.session = session
                state.users += 1
                state.loads += 1
            }
            logger.info(
                "model graph loaded",
                metadata: [
                    "graph": "\(URL(fileURLWithPath: path).lastPathComponent)",
                    "seconds": "\(Self.seconds(started.duration(to: .now)))",
                ])
            return session
        }
    }

    /// The session, counted as held, when it is in memory.
    private func holdLoaded() -> InferenceSession? {
        state.withLockedValue { state in
            guard let session = state.session else { return nil }
            state.users += 1
            return session
        }
    }

    private func release() {
        guard let idleUnload else {
            state.withLockedValue { $0.users -= 1 }
            return
        }
        let schedule = state.withLockedValue { state in
            state.users -= 1
            state.lastUse = .now
            guard state.users == 0, !state.checkPending else { return false }
            state.checkPending = true
            return true
        }
        if schedule { scheduleCheck(after: idleUnload) }
    }

    private func scheduleCheck(after seconds: TimeInterval) {
        // Weak: a registry that is gone (a test's) takes its sessions with it.
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [weak self] in self?.releaseIfIdle() }
    }

    /// Releases the session when no run holds it and none has used it for `idleUnload`
    /// seconds; otherwise looks again when that time will have passed.
    private func releaseIfIdle() {
        guard let idleUnload else { return }
        var released: InferenceSession?
        let lookAgain = state.withLockedValue { state -> TimeInterval? in
            state.checkPending = false
            // A run holding it schedules the next check when it ends.
            guard state.session != nil, state.users == 0 else { return nil }
            let idle = Self.seconds(state.lastUse.duration(to: .now))
            guard idle >= idleUnload else {
                state.checkPending = true
                return idleUnload - idle
            }
            released = state.session.take()
            return nil
        }
        if let lookAgain { scheduleCheck(after: lookAgain) }
        guard released != nil else { return }
        // The last reference: ONNX Runtime's session is released here, outside the lock.
        released = nil
        afterUnload()
        logger.info(
            "model graph released after idle",
            metadata: ["graph": "\(URL(fileURLWithPath: path).lastPathComponent)", "idle_seconds": "\(idleUnload)"])
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
