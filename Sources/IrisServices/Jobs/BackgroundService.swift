import AsyncHTTPClient
import Foundation
import IrisCore
import IrisStore
import Logging
import NIOConcurrencyHelpers
public import ServiceLifecycle

/// Runs the workers and the scheduler for as long as the process serves, stops them
/// gracefully (no job left `running`), and only then closes the database.
public struct BackgroundService: Service {
    public init(jobs: JobSystem, dependencies: IrisDependencies) {
        self.jobs = jobs
        self.dependencies = dependencies
    }

    public let jobs: JobSystem
    public let dependencies: IrisDependencies

    public func run() async throws {
        let (workers, scheduler) = (jobs.workers, jobs.scheduler)
        async let background: Void = withTaskGroup(of: Void.self) { group in
            if let workers { group.addTask { await workers.run() } }
            if let scheduler { group.addTask { await scheduler.run() } }
        }
        try? await gracefulShutdown()
        scheduler?.stop()
        workers?.beginStop()
        await background
        try? await jobs.httpClient.shutdown()
        await dependencies.close()
    }
}
