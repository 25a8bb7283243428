import AsyncHTTPClient
import Foundation
import IrisCore
import IrisStore
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Runs beside the workers: enqueues periodic jobs and feeds webhook deliveries from the
/// event log.
///
/// Several processes may run a scheduler at once. A periodic job is enqueued with an
/// idempotency key naming its time slot (`periodic:cleanup:<slot>`), so each slot gets
/// one job however many schedulers there are; the webhook dispatcher's cursor is locked
/// while it is advanced, so each event is dispatched once.
final class JobScheduler: Sendable {
    public struct Periodic: Sendable {
        public init(kind: String, payload: String, queue: String, every: Double) {
            self.kind = kind
            self.payload = payload
            self.queue = queue
            self.every = every
        }

        public var kind: String
        public var payload: String
        public var queue: String
        public var every: Double
    }

    public let queue: JobQueue
    public let periodic: [Periodic]
    public let tick: Double
    public let logger: Logger
    private let wake = Doorbell()
    private let stopped = NIOLockedValueBox(false)

    public init(queue: JobQueue, periodic: [Periodic], tick: Double = 1, logger: Logger) {
        self.queue = queue
        self.periodic = periodic
        self.tick = tick
        self.logger = logger
    }

    public func stop() {
        stopped.withLockedValue { $0 = true }
        wake.ring()
    }

    public func run() async {
        var lastSlot: [String: Int64] = [:]
        while !stopped.withLockedValue({ $0 }) {
            let generation = wake.generation
            let now = Date().timeIntervalSince1970
            for job in periodic {
                let slot = Int64(now / job.every)
                guard lastSlot[job.kind] != slot else { continue }
                do {
                    try await queue.enqueue(
                        JobRequest(
                            kind: job.kind, payload: job.payload, queue: job.queue, maxAttempts: 3,
                            idempotencyKey: "periodic:\(job.kind):\(slot)"))
                    lastSlot[job.kind] = slot
                } catch {
                    logger.error(
                        "cannot enqueue a periodic job",
                        metadata: ["kind": "\(job.kind)", "error": "\(String(reflecting: error))"])
                }
            }
            do {
                if try await queue.store.webhooks.dispatch(
                    batch: 500, queue: JobSettings.Queue.webhooks, maxAttempts: 8) > 0
                {
                    queue.doorbell.ring()
                }
            } catch {
                logger.error("cannot dispatch webhook deliveries", metadata: ["error": "\(String(reflecting: error))"])
            }
            await wake.wait(since: generation, seconds: tick)
        }
    }
}
