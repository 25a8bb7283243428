import AsyncHTTPClient
import Foundation
import Hummingbird
import IrisBenchmarks
import IrisCore
import IrisML
import IrisServer
public import IrisServices
import IrisStore
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// `iris worker` and `iris jobs …`.
public enum IrisJobCommands {
    /// Runs standalone workers (and a scheduler) until SIGTERM or SIGINT: how Iris scales
    /// out. Any number may run against one PostgreSQL database and one blob store.
    public static func worker(_ settings: IrisSettings, queues: [String]?, concurrency: Int?) async throws {
        MallocTuning.apply(arenas: settings.mallocArenas)
        let logger = settings.makeLogger(label: "iris.worker")
        let groups: [WorkerGroup]
        if queues != nil || concurrency != nil {
            let names =
                queues ?? [
                    JobSettings.Queue.images, JobSettings.Queue.ml, JobSettings.Queue.standard,
                    JobSettings.Queue.webhooks,
                ]
            groups = [WorkerGroup(queues: names, concurrency: concurrency ?? System.coreCount)]
        } else {
            groups = settings.jobs.workers
        }
        guard !groups.isEmpty else {
            throw CommandFailure(message: "no queues to work on: give --queues or set jobs.queues")
        }
        let dependencies = try await IrisDependencies.open(settings, logger: logger)
        let system: IrisSystem
        do {
            system = try IrisSystem(
                settings: settings, dependencies: dependencies, workers: groups, schedule: true, logger: logger)
        } catch {
            await dependencies.close()
            throw error
        }
        await system.prepareModels(logger: logger)
        logger.info(
            "worker starting",
            metadata: [
                "database": "\(settings.database)",
                "workers":
                    "\(groups.map { "\($0.queues.joined(separator: "+")):\($0.concurrency)" }.joined(separator: ","))",
                "identity": "\(system.workers?.identity ?? "")",
            ])
        var services = system.services
        if settings.jobs.healthPort > 0 {
            services.append(healthService(settings, database: dependencies.store.database, logger: logger))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await dependencies.close()
            throw error
        }
        // Whoever opens the database closes it: after every service has stopped.
        await dependencies.close()
        logger.info("worker stopped")
    }

    /// The worker's probe endpoints (`jobs.health_port`): /healthz while the process runs,
    /// /readyz while the database answers too.
    static func healthService(_ settings: IrisSettings, database: IrisDatabase, logger: Logger) -> any Service {
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let ready = await database.ping()
            return Response(
                status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: ready ? "ready\n" : "the database does not answer\n")))
        }
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(settings.host, port: settings.jobs.healthPort), serverName: "iris-worker"),
            logger: logger)
    }

    public static func list(_ settings: IrisSettings, state: String?, kind: String?, limit: Int) async throws {
        try await IrisAccountCommands.withStore(settings) { store in
            let jobs = try await store.jobs.list(
                state: try parse(state), kind: kind, projectIDs: nil, keyPrefix: nil, before: nil, limit: limit)
            for job in jobs {
                let progress = job.state == .running ? String(format: "\t%.0f%%", job.progress * 100) : ""
                print(
                    "\(job.id)\t\(job.kind)\t\(job.queue)\t\(job.state.rawValue)\tattempt \(job.attempts)/\(job.maxAttempts)\(progress)\(job.error.map { "\t\($0)" } ?? "")"
                )
            }
            if jobs.isEmpty { print("No jobs.") }
        }
    }

    public static func show(_ settings: IrisSettings, id: Int64) async throws {
        try await IrisAccountCommands.withStore(settings) { store in
            guard let job = try await store.jobs.find(id: id) else { throw Refusal.notFound("no job has id \(id)") }
            print(
                String(decoding: try JobDocument.json(job, runs: try await store.jobs.runs(jobID: id)), as: UTF8.self))
        }
    }

    public static func cancel(_ settings: IrisSettings, id: Int64) async throws {
        try await IrisAccountCommands.withStore(settings) { store in
            let job = try await store.jobs.cancel(id: id)
            await IrisAccountCommands.record(store, .jobCancelled, subject: "job \(id)")
            print(
                job.state == .cancelled ? "Cancelled job \(id)." : "Asked job \(id) to stop; it ends at its next check."
            )
        }
    }

    public static func retry(_ settings: IrisSettings, id: Int64) async throws {
        try await IrisAccountCommands.withStore(settings) { store in
            _ = try await store.jobs.retry(id: id)
            await IrisAccountCommands.record(store, .jobRetried, subject: "job \(id)")
            print("Queued job \(id) again.")
        }
    }

    public static func enqueue(_ settings: IrisSettings, kind: String, payload: String, queue: String?) async throws {
        let logger = settings.makeLogger()
        let dependencies = try await IrisDependencies.open(settings, logger: logger)
        let outcome: Result<(job: Job, created: Bool), any Error>
        do {
            // Only an analysis job's payload names a model: nothing else needs the graphs loaded.
            let models: ModelRegistry? = kind == AnalysisJob.kind ? nil : .empty
            let system = try IrisSystem(
                settings: settings, dependencies: dependencies, workers: [], schedule: false, logger: logger,
                models: models)
            do {
                outcome = .success(
                    try await system.queue.enqueue(
                        JobRequest(kind: kind, payload: payload, queue: queue ?? JobSettings.Queue.standard)))
            } catch {
                outcome = .failure(error)
            }
            try? await system.httpClient.shutdown()
        } catch {
            outcome = .failure(error)
        }
        await dependencies.close()
        switch outcome {
        case .success(let answer):
            print(answer.created ? "Enqueued job \(answer.job.id)." : "Job \(answer.job.id) already does this.")
        case .failure(let error) where CommandFailure.message(for: error) != nil:
            throw CommandFailure(message: CommandFailure.message(for: error)!)
        case .failure(let error): throw error
        }
    }

    /// Prints the job-queue benchmark's report as one JSON line.
    public static func bench(_ settings: IrisSettings, count: Int, rounds: Int) async throws {
        let report = try await JobBenchmark.run(settings, count: count, rounds: rounds)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }

    static func parse(_ state: String?) throws -> JobState? {
        guard let state else { return nil }
        guard let parsed = JobState(rawValue: state) else {
            throw Refusal.invalid(
                "state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))", field: "state")
        }
        return parsed
    }
}
