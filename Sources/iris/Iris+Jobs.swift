import ArgumentParser
import Foundation
import IrisCommands
import IrisCore
import IrisServer
import IrisServices

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run background workers (and the scheduler) until SIGTERM or SIGINT.",
        discussion: """
            Runs jobs from the database named by --database (or db.url): any number of workers on any machines that reach \
            the database and the data folder's blobs. Without --queues and --concurrency the jobs.queues setting decides. \
            On SIGTERM, running jobs get jobs.shutdown_grace_seconds to finish, then go back to the queue.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Comma-separated queues to take jobs from (default: images,ml,default,webhooks).")
    var queues: String?

    @Option(help: "Jobs to run at once (default: the number of cores).")
    var concurrency: Int?

    func validate() throws {
        if let concurrency, !(1...256).contains(concurrency) {
            throw ValidationError("--concurrency must be from 1 to 256")
        }
    }

    func run() async throws {
        let names = queues?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        try await IrisJobCommands.worker(try common.settings(), queues: names, concurrency: concurrency)
    }
}

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "Inspect and steer background jobs.",
        subcommands: [List.self, Show.self, Cancel.self, Retry.self, Enqueue.self, Bench.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Only jobs in this state: queued, running, succeeded, failed, dead, cancelled.") var state:
            String?
        @Option(help: "Only jobs of this kind, e.g. image.thumbnails.") var kind: String?
        @Option(help: "How many to list.") var limit = 50

        func run() async throws {
            try await IrisJobCommands.list(try common.settings(), state: state, kind: kind, limit: limit)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one job as JSON, with every attempt.")
        @OptionGroup var common: CommonOptions
        @Argument var id: Int64

        func run() async throws {
            try await IrisJobCommands.show(try common.settings(), id: id)
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a queued job, or ask a running one to stop.")
        @OptionGroup var common: CommonOptions
        @Argument var id: Int64

        func run() async throws {
            try await IrisJobCommands.cancel(try common.settings(), id: id)
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue a dead or failed job again, with fresh attempts.")
        @OptionGroup var common: CommonOptions
        @Argument var id: Int64

        func run() async throws {
            try await IrisJobCommands.retry(try common.settings(), id: id)
        }
    }

    struct Enqueue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Enqueue a job, e.g. `iris jobs enqueue maintenance.cleanup` or `iris jobs enqueue diagnostic --payload '{\"seconds\":2}'`."
        )
        @OptionGroup var common: CommonOptions
        @Argument(help: "Job kind: image.thumbnails, maintenance.cleanup, webhook.deliver or diagnostic.") var kind:
            String
        @Option(help: "The payload as a JSON object.") var payload = "{}"
        @Option(help: "Queue (default: default).") var queue: String?

        func run() async throws {
            try await IrisJobCommands.enqueue(try common.settings(), kind: kind, payload: payload, queue: queue)
        }
    }

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Measure no-op job throughput against bare transactions on the database (for make bench; use an empty database).",
            shouldDisplay: false)
        @OptionGroup var common: CommonOptions
        @Option(help: "How many jobs (and baseline transactions) in each round.") var count = 2000
        @Option(help: "Rounds: baseline then jobs, alternately; the ratio is the median over them.") var rounds = 5

        func run() async throws {
            try await IrisJobCommands.bench(try common.settings(), count: count, rounds: rounds)
        }
    }
}
