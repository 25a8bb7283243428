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

    static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    func request(method: String, route: String, status: Int, duration: Duration) {
        registry.makeCounter(
            name: "iris_http_requests_total", labels: [("method", method), ("route", route), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            name: "iris_http_request_duration_seconds", labels: [("method", method), ("route", route)], buckets: Self.latencyBuckets
        ).record(duration)
    }

    /// An upload's outcome: `created`, `duplicate` or `rejected`.
    func upload(outcome: String) {
        registry.makeCounter(name: "iris_uploads_total", labels: [("outcome", outcome)]).increment()
    }

    /// Bytes of new originals written to the blob store.
    func stored(bytes: Int64) {
        registry.makeCounter(name: "iris_stored_bytes_total", labels: []).increment(by: bytes)
    }

    func render() -> String { registry.emitToString() }
}
