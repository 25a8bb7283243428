import Foundation
public import IrisCore

/// Workers that share a list of queues: `concurrency` loops, each claiming from any of them.
public struct WorkerGroup: Sendable, Equatable {
    public var queues: [String]
    public var concurrency: Int

    public init(queues: [String], concurrency: Int) {
        self.queues = queues
        self.concurrency = concurrency
    }
}

/// How the job system runs: workers, leases, retries, periodic work, webhooks.
public struct JobSettings: Sendable {
    /// The queues Iris's own job kinds use.
    public enum Queue {
        public static let images = "images"
        /// Model runs (analyses).
        public static let ml = "ml"
        public static let standard = "default"
        public static let webhooks = "webhooks"
    }

    public var workers: [WorkerGroup]
    public var leaseSeconds: Double
    /// Jobs a worker claims at once; the ones behind a job that runs past its first
    /// heartbeat are given back to the queue.
    public var prefetch: Int
    public var pollSeconds: Double
    public var graceSeconds: Double
    public var backoff: Backoff
    public var retentionDays: Double
    public var cleanupInterval: Double
    public var webhookAllowNetworks: [IPNetwork]
    public var webhookTimeout: Double
    /// `iris worker`'s probe port (`jobs.health_port`; 0: none).
    public var healthPort = 0

    public init(
        workers: [WorkerGroup] = [
            WorkerGroup(queues: [Queue.images], concurrency: 1), WorkerGroup(queues: [Queue.ml], concurrency: 2),
            WorkerGroup(queues: [Queue.standard], concurrency: 1),
            WorkerGroup(queues: [Queue.webhooks], concurrency: 2),
        ],
        leaseSeconds: Double = 30, prefetch: Int = 1, pollSeconds: Double = 2, graceSeconds: Double = 10,
        backoff: Backoff = Backoff(), retentionDays: Double = 14,
        cleanupInterval: Double = 3600, webhookAllowNetworks: [IPNetwork] = [], webhookTimeout: Double = 10
    ) {
        self.workers = workers
        self.leaseSeconds = leaseSeconds
        self.prefetch = prefetch
        self.pollSeconds = pollSeconds
        self.graceSeconds = graceSeconds
        self.backoff = backoff
        self.retentionDays = retentionDays
        self.cleanupInterval = cleanupInterval
        self.webhookAllowNetworks = webhookAllowNetworks
        self.webhookTimeout = webhookTimeout
    }

    public init(_ reader: ConfigurationReader) throws {
        self.init(
            workers: try Self.workerGroups(reader.string(.jobQueues)),
            leaseSeconds: try reader.double(.jobLeaseSeconds, in: 1...3600),
            prefetch: try reader.int(.jobPrefetch, in: 1...64),
            pollSeconds: try reader.double(.jobPollSeconds, in: 0.05...600),
            graceSeconds: try reader.double(.jobGraceSeconds, in: 0...3600),
            backoff: Backoff(base: try reader.double(.jobRetryBaseSeconds, in: 0.01...3600)),
            retentionDays: try reader.double(.jobRetentionDays, in: 0...3650),
            cleanupInterval: try reader.double(.cleanupInterval, in: 1...(30 * 86400)),
            webhookAllowNetworks: try reader.string(.webhookAllowNetworks).split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                .map { text in
                    guard let network = IPNetwork(text) else {
                        throw ConfigurationError(
                            "webhooks.allow_networks: \"\(text)\" is not a CIDR block like 10.0.0.0/8 or fd00::/8",
                            setting: "webhooks.allow_networks")
                    }
                    return network
                },
            webhookTimeout: try reader.double(.webhookTimeout, in: 0.1...300))
        healthPort = try reader.int(.workerHealthPort, in: 0...65535)
    }

    /// `images:1,default:1` → one group per queue.
    public static func workerGroups(_ text: String) throws -> [WorkerGroup] {
        try text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map {
            pair in
            let parts = pair.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let count = Int(parts[1]), (0...64).contains(count) else {
                throw ConfigurationError(
                    "jobs.queues: \"\(pair)\" is not queue:count with a count of 0 to 64", setting: "jobs.queues")
            }
            return WorkerGroup(queues: [parts[0]], concurrency: count)
        }.filter { $0.concurrency > 0 }
    }
}
