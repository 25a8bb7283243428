import Foundation
public import IrisCore
import NIOConcurrencyHelpers

/// The code behind one job kind. Handlers must be idempotent: delivery is at least once,
/// so a job whose worker died is run again from the start.
public protocol JobHandler: Sendable {
    associatedtype Payload: Codable & Sendable
    associatedtype Output: Encodable & Sendable
    /// The job kind this handler runs, e.g. `image.thumbnails`.
    static var kind: String { get }
    /// Checks a payload when it is enqueued; throw a `Refusal` to refuse it. Decoding
    /// has already succeeded.
    func validate(_ payload: Payload) throws
    func run(_ payload: Payload, context: JobContext) async throws -> Output
}

extension JobHandler {
    public func validate(_ payload: Payload) throws {}
}

/// Thrown by a handler when retrying cannot help (what the job names is gone or
/// invalid): the job ends `failed` at once instead of being retried.
public struct PermanentJobFailure: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What a running handler sees of its job: progress reporting and cancellation.
public final class JobContext: Sendable {
    public let job: Job
    private let state = NIOLockedValueBox<(progress: Double?, message: String?, detail: String?)>((nil, nil, nil))

    public init(job: Job) { self.job = job }

    /// Records progress (0…1) and a short message; sent with the next lease renewal.
    public func report(progress: Double, message: String? = nil) {
        state.withLockedValue {
            $0.progress = progress
            $0.message = message
        }
    }

    /// A note kept with this attempt in the job's run history (e.g. an HTTP status).
    public func note(_ detail: String) {
        state.withLockedValue { $0.detail = detail }
    }

    /// Throws `CancellationError` once the job was cancelled, its lease was lost, or the
    /// worker is stopping and its grace period is over.
    public func checkCancellation() throws { try Task.checkCancellation() }

    public var pendingProgress: (progress: Double?, message: String?) {
        state.withLockedValue { ($0.progress, $0.message) }
    }
    public var detail: String? { state.withLockedValue { $0.detail } }
}
