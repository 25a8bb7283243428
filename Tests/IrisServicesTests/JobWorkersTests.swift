import Foundation
import IrisCore
import IrisStore
import IrisTesting
import Testing

@testable import IrisServices

/// The workers over the real queue and store, with no server.
@Suite("Job workers")
struct JobWorkersTests {
    @Test(
        "stopping workers lets short jobs finish and gives long ones back: nothing is left running",
        arguments: TestDatabase.enabled)
    func gracefulStop(database: TestDatabase) async throws {
        try await database.withStore { store in
            let registry = JobRegistry()
            registry.register(DiagnosticJob())
            let queue = JobQueue(store: store, registry: registry)
            var settings = JobSettings(
                workers: [WorkerGroup(queues: ["q"], concurrency: 2)], leaseSeconds: 3, pollSeconds: 0.2,
                graceSeconds: 1)
            settings.backoff = Backoff(base: 0.2)
            let workers = JobWorkers(
                queue: queue, groups: settings.workers, settings: settings, metrics: IrisMetrics(),
                audit: AuditLog(store: store), logger: TestDatabase.logger)
            let short = try await queue.enqueue(
                JobRequest(kind: "diagnostic", payload: #"{"seconds":0.5}"#, queue: "q")
            ).job.id
            let long = try await queue.enqueue(JobRequest(kind: "diagnostic", payload: #"{"seconds":60}"#, queue: "q"))
                .job.id
            let running = Task { await workers.run() }
            for _ in 0..<100 where try await store.jobs.find(id: long)?.state != .running {
                try await Task.sleep(for: .milliseconds(50))
            }
            workers.beginStop()
            await running.value
            #expect(try await store.jobs.find(id: short)?.state == .succeeded)
            let given = try #require(try await store.jobs.find(id: long))
            #expect(given.state == .queued && given.attempts == 0 && given.leaseOwner == nil)
            #expect(try await store.jobs.runs(jobID: long).map(\.outcome) == ["released"])
            #expect(try await store.jobs.depth().allSatisfy { $0.state != .running })
        }
    }
}
