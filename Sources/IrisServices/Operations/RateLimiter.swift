public import Foundation
import IrisCore

/// Counts events per key in a sliding window, in memory (per process).
///
/// Used for sign-in failures (per client address and username pair, refused at the limit;
/// per username and per client address, slowed) and uploads (per caller). Keys and their
/// timestamps are pruned as they age out.
public actor RateLimiter {
    public let limit: Int
    public let window: TimeInterval
    private var hits: [String: [Date]] = [:]

    public init(limit: Int, window: TimeInterval) {
        self.limit = limit
        self.window = window
    }

    /// How many events `key` has in the window now.
    public func count(_ key: String, now: Date = Date()) -> Int {
        prune(key, now: now)
        return hits[key]?.count ?? 0
    }

    public func record(_ key: String, now: Date = Date()) {
        prune(key, now: now)
        hits[key, default: []].append(now)
        if hits.count > 100_000 { hits = hits.filter { !$0.value.isEmpty } }
    }

    public func clear(_ key: String) {
        hits[key] = nil
    }

    /// Seconds until `key` is under its limit again (nil when it is under it now).
    public func retryAfter(_ key: String, now: Date = Date()) -> Int? {
        prune(key, now: now)
        guard let times = hits[key], times.count >= limit, let oldest = times.first else { return nil }
        return max(1, Int((oldest.addingTimeInterval(window).timeIntervalSince(now)).rounded(.up)))
    }

    /// Throws a 429 with `Retry-After` when any of `keys` is at its limit.
    public func check(_ keys: [String], what: String) throws {
        for key in keys {
            if let seconds = retryAfter(key) {
                throw Refusal.tooManyRequests("too many \(what); try again in \(seconds) s", retryAfter: seconds)
            }
        }
    }

    private func prune(_ key: String, now: Date) {
        guard var times = hits[key] else { return }
        times.removeAll { now.timeIntervalSince($0) > window }
        hits[key] = times.isEmpty ? nil : times
    }
}
