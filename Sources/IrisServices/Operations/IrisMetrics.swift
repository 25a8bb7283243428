import Foundation
public import IrisCore
public import IrisStore
public import Prometheus

/// Iris's own metrics, in one Prometheus registry that `/metrics` renders.
///
/// Each application gets its own registry, so tests read exact counts; `iris serve`
/// also bootstraps swift-metrics onto the same registry so libraries' metrics appear too.
public struct IrisMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    public static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    public func request(method: String, route: String, status: Int, duration: Duration) {
        registry.makeCounter(
            name: "iris_http_requests_total",
            labels: [("method", method), ("route", route), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            name: "iris_http_request_duration_seconds", labels: [("method", method), ("route", route)],
            buckets: Self.latencyBuckets
        ).record(duration)
    }

    /// An upload's outcome: `created`, `duplicate` or `rejected`.
    public func upload(outcome: String) {
        registry.makeCounter(name: "iris_uploads_total", labels: [("outcome", outcome)]).increment()
    }

    /// Bytes of new originals written to the blob store.
    public func stored(bytes: Int64) {
        registry.makeCounter(name: "iris_stored_bytes_total", labels: []).increment(by: bytes)
    }

    public static let jobBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
        .seconds(60),
        .seconds(300), .seconds(1800),
    ]

    /// A job started: how long it waited since it became due (first attempts: since enqueue).
    public func jobStarted(_ job: Job) {
        let waited = Date().timeIntervalSince(job.attempts <= 1 ? job.createdAt : job.runAfter)
        registry.makeDurationHistogram(
            name: "iris_job_wait_seconds", labels: [("queue", job.queue), ("kind", job.kind)], buckets: Self.jobBuckets
        ).record(.milliseconds(Int64(max(waited, 0) * 1000)))
        if job.attempts > 1 {
            registry.makeCounter(name: "iris_job_retries_total", labels: [("kind", job.kind)]).increment()
        }
    }

    /// An attempt ended: `succeeded`, `failed`, `dead`, `cancelled`, `released` or `lost`.
    public func jobFinished(_ job: Job, outcome: String, duration: Duration) {
        registry.makeCounter(name: "iris_job_attempts_total", labels: [("kind", job.kind), ("outcome", outcome)])
            .increment()
        registry.makeDurationHistogram(
            name: "iris_job_run_seconds", labels: [("queue", job.queue), ("kind", job.kind)], buckets: Self.jobBuckets
        ).record(duration)
        if outcome == "failed" || outcome == "dead" {
            registry.makeCounter(name: "iris_job_failures_total", labels: [("kind", job.kind)]).increment()
        }
    }

    /// Jobs per queue and state, as last counted.
    public func queueDepth(_ depths: [QueueDepth]) {
        for queue in Set(depths.map(\.queue)) {
            for state in JobState.allCases {
                let count = depths.first { $0.queue == queue && $0.state == state }?.count ?? 0
                registry.makeGauge(name: "iris_jobs", labels: [("queue", queue), ("state", state.rawValue)]).set(
                    Double(count))
            }
        }
    }

    public func render() -> String { registry.emitToString() }
}
