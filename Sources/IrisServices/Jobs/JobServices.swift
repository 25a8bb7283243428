import AsyncHTTPClient
import ServiceLifecycle

/// The workers as a `Service`: they run until the group shuts down, then stop claiming,
/// let short jobs finish and give long ones back (no job is left `running`).
struct JobWorkerService: Service {
    public let workers: JobWorkers

    public init(_ workers: JobWorkers) { self.workers = workers }

    public func run() async throws {
        async let running: Void = workers.run()
        try? await gracefulShutdown()
        workers.beginStop()
        await running
    }
}

/// The scheduler of periodic jobs as a `Service`.
struct JobSchedulerService: Service {
    public let scheduler: JobScheduler

    public init(_ scheduler: JobScheduler) { self.scheduler = scheduler }

    public func run() async throws {
        async let running: Void = scheduler.run()
        try? await gracefulShutdown()
        scheduler.stop()
        await running
    }
}

/// The HTTP client that webhooks and remote models use, shut down when the group ends. It goes
/// first in a group, so it is shut down last, after the workers that use it have stopped.
struct HTTPClientService: Service {
    public let client: HTTPClient

    public init(_ client: HTTPClient) { self.client = client }

    public func run() async throws {
        try? await gracefulShutdown()
        try? await client.shutdown()
    }
}
