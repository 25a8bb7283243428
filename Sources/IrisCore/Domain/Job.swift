public import Foundation

/// Where a job is in its life.
///
/// `queued` → `running` → `succeeded`; a failed attempt goes back to `queued` (after a
/// backoff) until its attempts run out, then `dead`. `failed` is a permanent failure the
/// handler reported (a retry cannot help, e.g. the image it names is gone). `cancelled`
/// is final too. `dead` and `failed` jobs are kept for inspection and can be retried.
public enum JobState: String, Sendable, Codable, CaseIterable {
    case queued, running, succeeded, failed, dead, cancelled

    public var isFinished: Bool { ![.queued, .running].contains(self) }
}

/// One unit of background work, as stored in the `jobs` table.
public struct Job: Sendable, Equatable, Codable {
    public var id: Int64
    /// What to do, e.g. `image.thumbnails`; names the handler.
    public var kind: String
    public var queue: String
    /// The handler's input, as JSON text.
    public var payload: String
    /// Higher runs first.
    public var priority: Int
    public var state: JobState
    public var attempts: Int
    public var maxAttempts: Int
    public var runAfter: Date
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    /// 0…1.
    public var progress: Double
    public var progressMessage: String?
    /// The handler's output, as JSON text.
    public var result: String?
    public var error: String?
    public var idempotencyKey: String?
    /// Cancellation was asked for while it ran; the handler stops at its next check.
    public var cancelRequested: Bool
    /// The project the job works for, if any: it decides who may see and cancel it.
    public var projectID: Int64?
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    public init(
        id: Int64, kind: String, queue: String, payload: String, priority: Int, state: JobState, attempts: Int,
        maxAttempts: Int,
        runAfter: Date, leaseOwner: String?, leaseExpiresAt: Date?, progress: Double, progressMessage: String?,
        result: String?,
        error: String?, idempotencyKey: String?, cancelRequested: Bool, projectID: Int64?, createdAt: Date,
        startedAt: Date?, finishedAt: Date?
    ) {
        (self.id, self.kind, self.queue, self.payload, self.priority, self.state) = (
            id, kind, queue, payload, priority, state
        )
        (self.attempts, self.maxAttempts, self.runAfter, self.leaseOwner, self.leaseExpiresAt) = (
            attempts, maxAttempts, runAfter, leaseOwner, leaseExpiresAt
        )
        (self.progress, self.progressMessage, self.result, self.error) = (progress, progressMessage, result, error)
        (self.idempotencyKey, self.cancelRequested, self.projectID) = (idempotencyKey, cancelRequested, projectID)
        (self.createdAt, self.startedAt, self.finishedAt) = (createdAt, startedAt, finishedAt)
    }
}

/// What to enqueue: everything about a job that its creator chooses.
public struct JobRequest: Sendable {
    public var kind: String
    public var payload: String
    public var queue: String
    public var priority: Int
    public var maxAttempts: Int
    public var runAfter: Date?
    public var idempotencyKey: String?
    public var projectID: Int64?

    public init(
        kind: String, payload: String, queue: String = "default", priority: Int = 0, maxAttempts: Int = 5,
        runAfter: Date? = nil,
        idempotencyKey: String? = nil, projectID: Int64? = nil
    ) {
        self.kind = kind
        self.payload = payload
        self.queue = queue
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.runAfter = runAfter
        self.idempotencyKey = idempotencyKey
        self.projectID = projectID
    }

    /// A request whose payload is `value` encoded as JSON.
    public init(
        kind: String, encoding value: some Encodable, queue: String = "default", priority: Int = 0,
        maxAttempts: Int = 5,
        idempotencyKey: String? = nil, projectID: Int64? = nil
    ) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let payload = String(decoding: try encoder.encode(value), as: UTF8.self)
        self.init(
            kind: kind, payload: payload, queue: queue, priority: priority, maxAttempts: maxAttempts,
            idempotencyKey: idempotencyKey, projectID: projectID)
    }
}

/// One attempt at a job: who ran it, when, and how it ended. Webhook deliveries keep
/// the HTTP status they got in `detail`.
public struct JobRun: Sendable, Equatable, Codable {
    public var jobID: Int64
    public var attempt: Int
    public var worker: String
    public var startedAt: Date
    public var finishedAt: Date?
    /// `running`, `succeeded`, `failed`, `released`, `lost`, `cancelled`.
    public var outcome: String
    public var error: String?
    public var detail: String?

    public init(
        jobID: Int64, attempt: Int, worker: String, startedAt: Date, finishedAt: Date?, outcome: String, error: String?,
        detail: String?
    ) {
        (self.jobID, self.attempt, self.worker, self.startedAt, self.finishedAt) = (
            jobID, attempt, worker, startedAt, finishedAt
        )
        (self.outcome, self.error, self.detail) = (outcome, error, detail)
    }
}

/// Retry timing: exponential backoff with full jitter, capped.
public struct Backoff: Sendable, Equatable {
    public var base: Double
    public var cap: Double

    public init(base: Double = 2, cap: Double = 3600) {
        self.base = base
        self.cap = cap
    }

    /// Seconds to wait after failed attempt number `attempt` (1-based): a random point in
    /// the upper half of `base · 2^(attempt-1)`, so delays grow and retries spread out.
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0...1)) -> Double {
        let ceiling = min(cap, base * pow(2, Double(max(attempt, 1) - 1)))
        return ceiling / 2 + ceiling / 2 * random
    }
}
