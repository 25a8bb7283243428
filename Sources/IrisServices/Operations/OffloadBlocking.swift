import Foundation

/// Runs long blocking work (training a head, repairing a photo) on a thread of its own, not on
/// Swift's cooperative pool, whose few threads the server's requests need.
public func offloadBlocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
