import Foundation
public import IrisCore
public import IrisStore
public import Logging
import NIOConcurrencyHelpers

/// Worker loops that claim jobs from the queue and run their handlers: in-process in
/// `iris serve`, or standalone in `iris worker` on any machine that reaches the database
/// and the blob store.
///
/// Each loop claims one job, runs it under a supervisor that renews its lease and
/// forwards cancellation, records the outcome and claims the next job in the same
/// transaction. Beside the loops run a reaper (puts back jobs whose worker died), a
/// PostgreSQL listener (wakes loops on enqueue) and a gauge of queue depths.
///
/// Stopping: `beginStop` ends claiming at once; running jobs get the grace period to
/// finish, then are cancelled and released back to the queue. Nothing stays `running`.
public final class JobWorkers: Sendable {
    public enum Phase: Sendable { case running, draining, releasing }

    public let queue: JobQueue
    public let groups: [WorkerGroup]
    public let settings: JobSettings
    public let identity: String
    public let metrics: IrisMetrics
    public let logger: Logger
    private let phase = NIOLockedValueBox(Phase.running)

    /// Where a job that will not run again is recorded.
    public let audit: AuditLog

    public init(
        queue: JobQueue, groups: [WorkerGroup], settings: JobSettings, metrics: IrisMetrics, audit: AuditLog,
        logger: Logger
    ) {
        self.queue = queue
        self.audit = audit
        self.groups = groups
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        let host = ProcessInfo.processInfo.hostName
        identity = "\(host)-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    private var store: IrisStore { queue.store }
    private var stopping: Bool { phase.withLockedValue { $0 != .running } }
    private var heartbeatInterval: Double { min(settings.leaseSeconds / 3, 2) }

    /// Runs until `beginStop` was called and every loop has finished or released its job.
    public func run() async {
        let helpers = Task { await runHelpers() }
        await withTaskGroup(of: Void.self) { group in
            for (groupIndex, workerGroup) in groups.enumerated() {
                for slot in 0..<workerGroup.concurrency {
                    let name = "\(identity)/\(groupIndex).\(slot)"
                    group.addTask { await self.loop(queues: workerGroup.queues, worker: name) }
                }
            }
        }
        helpers.cancel()
        await helpers.value
    }

    /// Stops claiming now; after the grace period, running jobs are cancelled and released.
    public func beginStop() {
        let first = phase.withLockedValue { phase -> Bool in
            defer { if phase == .running { phase = .draining } }
            return phase == .running
        }
        guard first else { return }
        queue.doorbell.ring()
        let grace = settings.graceSeconds
        Task {
            try? await Task.sleep(for: .seconds(grace))
            self.phase.withLockedValue { $0 = .releasing }
        }
    }

    private func loop(queues: [String], worker: String) async {
        // Claimed but not started (prefetched): given back if the job before them runs long.
        let held = NIOLockedValueBox<[Job]>([])
        let prefetch = settings.prefetch
        var failures = 0
        while true {
            if held.withLockedValue({ $0.isEmpty }) {
                if stopping { return }
                let generation = queue.doorbell.generation
                do {
                    let claimed = try await store.jobs.claim(
                        queues: queues, worker: worker, lease: settings.leaseSeconds, limit: prefetch)
                    held.withLockedValue { $0 = claimed }
                    failures = 0
                } catch {
                    failures += 1
                    logger.error(
                        "cannot claim jobs", metadata: ["worker": "\(worker)", "error": "\(String(reflecting: error))"])
                    await queue.doorbell.wait(since: generation, seconds: min(Double(failures), 10))
                    continue
                }
                if held.withLockedValue({ $0.isEmpty }) {
                    // Sleep until handed a job or woken, until the next retry is due, or for the poll interval.
                    var sleep = settings.pollSeconds
                    if let due = try? await store.jobs.nextDue(queues: queues) {
                        sleep = min(sleep, max(due.timeIntervalSinceNow, 0.005))
                    }
                    guard
                        let handed = await queue.doorbell.wait(
                            since: generation, seconds: sleep, queues: queues, worker: worker)
                    else { continue }
                    held.withLockedValue { $0 = [handed] }
                }
            }
            if stopping {
                await giveBack(held, worker: worker)
                continue
            }
            guard let job = held.withLockedValue({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
            metrics.jobStarted(job)
            let started = ContinuousClock.now
            guard let outcome = await execute(job, worker: worker, held: held) else {
                metrics.jobFinished(job, outcome: "lost", duration: ContinuousClock.now - started)
                logger.warning(
                    "lost the lease of a job while running it", metadata: ["job": "\(job.id)", "kind": "\(job.kind)"])
                continue
            }
            metrics.jobFinished(job, outcome: Self.label(outcome, job), duration: ContinuousClock.now - started)
            // With nothing left in hand, claim the next jobs in the same write as this outcome.
            let claimMore = !stopping && held.withLockedValue { $0.isEmpty }
            do {
                let answer = try await store.jobs.finish(
                    job, worker: worker, outcome: outcome,
                    next: claimMore ? (queues: queues, lease: settings.leaseSeconds, limit: prefetch) : nil)
                if !answer.recorded {
                    logger.warning(
                        "a job's lease ran out before its outcome was recorded", metadata: ["job": "\(job.id)"])
                } else if Self.label(outcome, job) == "dead"
                    || { if case .failedPermanently = outcome { true } else { false } }()
                {
                    await recordFailure(job, outcome)
                }
                held.withLockedValue { $0 += answer.next }
            } catch {
                // The lease runs out and the job is run again: at least once, never lost.
                logger.error(
                    "cannot record a job's outcome",
                    metadata: ["job": "\(job.id)", "error": "\(String(reflecting: error))"])
            }
        }
    }

    /// Returns prefetched jobs that were not started to the queue, for other workers.
    private func giveBack(_ held: NIOLockedValueBox<[Job]>, worker: String) async {
        let spare = held.withLockedValue { jobs -> [Job] in
            defer { jobs.removeAll() }
            return jobs
        }
        guard !spare.isEmpty else { return }
        do {
            try await store.jobs.release(ids: spare.map(\.id), worker: worker)
            queue.doorbell.ring()
        } catch {
            // Their leases run out and they are claimed again.
            logger.error("cannot give back prefetched jobs", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    private enum Interruption: Sendable { case cancelled, lost, released }

    /// Runs the handler under a supervisor; nil when the lease was lost (report nothing).
    private func execute(_ job: Job, worker: String, held: NIOLockedValueBox<[Job]>) async -> JobOutcome? {
        guard let runner = queue.registry.runner(for: job.kind) else {
            return .failedPermanently(error: "this worker has no handler for job kind \"\(job.kind)\"")
        }
        let context = JobContext(job: job)
        let work = Task { try await runner.run(job.payload, context) }
        let interruption = NIOLockedValueBox<Interruption?>(nil)
        let interrupt: @Sendable (Interruption) -> Void = { reason in
            interruption.withLockedValue { if $0 == nil { $0 = reason } }
            work.cancel()
        }
        let supervisor = Task {
            var lastBeat = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                if Task.isCancelled { return }
                if phase.withLockedValue({ $0 == .releasing }) { interrupt(.released) }
                guard ContinuousClock.now - lastBeat >= .seconds(heartbeatInterval) else { continue }
                lastBeat = ContinuousClock.now
                // This job runs long: the jobs waiting behind it go to other workers.
                await giveBack(held, worker: worker)
                let pending = context.pendingProgress
                switch try? await store.jobs.heartbeat(
                    id: job.id, worker: worker, lease: settings.leaseSeconds, progress: pending.progress,
                    message: pending.message)
                {
                case .lost: interrupt(.lost)
                case .held(cancelRequested: true): interrupt(.cancelled)
                default: break
                }
            }
        }
        let result = await work.result
        supervisor.cancel()
        await supervisor.value
        let reason = interruption.withLockedValue { $0 }
        switch result {
        case .success(let output):
            return reason == .lost ? nil : .succeeded(result: output, detail: context.detail)
        case .failure(let error):
            switch reason {
            case .lost: return nil
            case .released: return .released
            case .cancelled: return .cancelled
            case nil: break
            }
            let message =
                (error as? PermanentJobFailure)?.message ?? (error as? Refusal)?.detail ?? String(describing: error)
            logger.notice(
                "a job attempt failed",
                metadata: [
                    "job": "\(job.id)", "kind": "\(job.kind)", "attempt": "\(job.attempts)", "error": "\(message)",
                ])
            if error is PermanentJobFailure { return .failedPermanently(error: message, detail: context.detail) }
            return .failed(
                error: message, retryIn: settings.backoff.delay(afterAttempt: job.attempts), detail: context.detail)
        }
    }

    /// A job that will not run again is an event: a toast for its project, and webhooks can
    /// hear of it. Not for webhook deliveries: a failing receiver would be sent the news of
    /// its own failure, forever; their attempts are in the delivery log instead.
    private func recordFailure(_ job: Job, _ outcome: JobOutcome) async {
        guard job.kind != WebhookDelivery.kind else { return }
        let error: String =
            switch outcome {
            case .failed(let error, _, _), .failedPermanently(let error, _): error
            default: ""
            }
        let action: EventAction = Self.label(outcome, job) == "dead" ? .jobDead : .jobFailed
        await audit.record(
            as: .system("iris worker"), action, project: job.projectID, subject: "job \(job.id)",
            detail: ["kind": job.kind, "error": String(error.prefix(500))])
    }

    public static func label(_ outcome: JobOutcome, _ job: Job) -> String {
        switch outcome {
        case .succeeded: "succeeded"
        case .failed: job.attempts >= job.maxAttempts ? "dead" : "failed"
        case .failedPermanently: "failed"
        case .cancelled: "cancelled"
        case .released: "released"
        }
    }

    /// The reaper, the PostgreSQL listener and the depth gauge, until cancelled.
    private func runHelpers() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await self.store.database.listen(channel: SQLJobRepository.channel) {
                    [doorbell = self.queue.doorbell] in doorbell.ring(all: false)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    do {
                        if try await self.store.jobs.reapExpiredLeases() > 0 { self.queue.doorbell.ring() }
                    } catch {
                        self.logger.error(
                            "cannot reap expired job leases", metadata: ["error": "\(String(reflecting: error))"])
                    }
                    try? await Task.sleep(for: .seconds(max(self.settings.leaseSeconds / 2, 0.5)))
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    if let depths = try? await self.store.jobs.depth() { self.metrics.queueDepth(depths) }
                    try? await Task.sleep(for: .seconds(5))
                }
            }
        }
    }
}
