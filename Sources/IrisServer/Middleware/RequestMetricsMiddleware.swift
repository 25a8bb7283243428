public import Hummingbird
public import IrisServices

/// Counts requests and their latency per route pattern (never per raw path, which
/// would give one series per image).
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: IrisMetrics

    public init(metrics: IrisMetrics) { self.metrics = metrics }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        metrics.request(
            method: request.method.rawValue, route: route, status: Int(response.status.code),
            duration: ContinuousClock.now - start)
        return response
    }
}
