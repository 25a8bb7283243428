import Foundation
public import IrisCore
public import IrisStore

/// The one way Iris enqueues work: every request is checked against the registered
/// handlers first (unknown kind or malformed payload → 400, nothing stored), then stored,
/// then idle in-process workers are woken.
public struct JobQueue: Sendable {
    public let store: IrisStore
    public let registry: JobRegistry
    let doorbell: Doorbell
    /// The lease a job handed straight to an idle worker starts with.
    public let leaseSeconds: Double

    public init(store: IrisStore, registry: JobRegistry, leaseSeconds: Double = 30) {
        self.init(store: store, registry: registry, doorbell: Doorbell(), leaseSeconds: leaseSeconds)
    }

    init(store: IrisStore, registry: JobRegistry, doorbell: Doorbell, leaseSeconds: Double) {
        self.store = store
        self.registry = registry
        self.doorbell = doorbell
        self.leaseSeconds = leaseSeconds
    }

    @discardableResult
    /// Queues a failed, dead or cancelled job again and wakes an idle worker for it.
    public func retry(id: Int64) async throws -> Job {
        let job = try await store.jobs.retry(id: id)
        doorbell.ring()
        return job
    }

    public func enqueue(_ request: JobRequest) async throws -> (job: Job, created: Bool) {
        try registry.validate(request)
        let due = request.runAfter.map { $0 <= Date() } ?? true
        guard due, let handoff = doorbell.reserve(queue: request.queue) else {
            let answer = try await store.jobs.enqueue(request)
            if answer.created { doorbell.ring(all: false) }
            return answer
        }
        do {
            let answer = try await store.jobs.enqueue(request, claimedBy: handoff.worker, lease: leaseSeconds)
            handoff.deliver(answer.created ? answer.job : nil)
            return answer
        } catch {
            handoff.deliver(nil)
            throw error
        }
    }

    /// Wakes idle workers for jobs stored by another transaction (an image's row and its jobs
    /// commit together in the image repository).
    public func wake() {
        doorbell.ring()
    }

    @discardableResult
    public func enqueue(_ requests: [JobRequest]) async throws -> [Job] {
        for request in requests { try registry.validate(request) }
        let jobs = try await store.jobs.enqueue(requests)
        if !jobs.isEmpty { doorbell.ring() }
        return jobs
    }
}
