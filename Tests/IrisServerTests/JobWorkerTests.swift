import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisStore
import IrisTesting
import Logging
import Testing

@testable import IrisServer
@testable import IrisServices

@Suite("Background jobs and workers")
struct JobWorkerTests {
    /// Fast retries and heartbeats, so the tests see several of each.
    func quick(_ settings: inout IrisSettings) {
        settings.jobs.backoff = Backoff(base: 0.2)
        settings.jobs.leaseSeconds = 3
        settings.jobs.pollSeconds = 0.2
    }

    func enqueue(_ server: TestServer, _ json: [String: Any]) async throws -> Int64 {
        let response = try await server.send(.post, "/api/v1/jobs", json: json)
        #expect(response.status == .created, "\(response.text)")
        return Int64(try #require(try response.json()["id"] as? Int))
    }

    @Test(
        "an upload makes the small thumbnail itself and queues a job for the large one", arguments: TestDatabase.enabled
    )
    func thumbnails(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let upload = try await server.upload(try Fixtures.jpeg(width: 1600, height: 1200, seed: 3), to: project)
            let sha256 = try #require(try upload.json()["sha256"] as? String)
            let job = try #require(
                try await server.store.jobs.list(
                    state: nil, kind: "image.thumbnails", projectIDs: [project], keyPrefix: nil, before: nil, limit: 5
                ).first)
            let done = try await server.waitForJob(job.id, in: [.succeeded])
            #expect(done.result == #"{"made":[1024]}"#)
            let large = try await server.get("/api/v1/images/\(sha256)/thumbnail?size=1024")
            #expect(large.status == .ok && large.data.count > 1000)
            // The API shows it to the project's viewers, with its attempt.
            let shown = try await server.get("/api/v1/jobs/\(job.id)").json()
            #expect(shown["state"] as? String == "succeeded" && (shown["runs"] as? [Any])?.count == 1)
        }
    }

    @Test(
        "a failing job retries with growing delays, ends dead with its last error, and never blocks the queue",
        arguments: TestDatabase.enabled)
    func poison(database: TestDatabase) async throws {
        // Delays of 2.5–5, 5–10 and 10–20 s: the poison job lives at least 17.5 s, the others need a fraction of that
        // (CI once took 11 s for them on 2 busy cores while every other test ran too).
        try await TestServer.with(
            database,
            configure: {
                quick(&$0)
                $0.jobs.backoff = Backoff(base: 5)
            }
        ) { server in
            let poison = try await enqueue(
                server, ["kind": "diagnostic", "payload": ["fail_attempts": 100], "max_attempts": 4])
            var others: [Int64] = []
            for _ in 0..<5 {
                others.append(try await enqueue(server, ["kind": "diagnostic", "payload": ["seconds": 0.05]]))
            }
            let dead = try await server.waitForJob(poison, in: [.dead, .failed, .succeeded], timeout: 90)
            #expect(dead.state == .dead)
            #expect(dead.error == "diagnostic failure on attempt 4")
            for id in others {
                let job = try await server.waitForJob(id, in: [.succeeded])
                // The poison job's retries did not hold the others up.
                #expect(
                    try #require(job.finishedAt) < (dead.finishedAt ?? .distantFuture),
                    "job \(id) finished at \(job.finishedAt!), the poison job died at \(dead.finishedAt!)")
            }
            let runs = try await server.store.jobs.runs(jobID: poison)
            #expect(runs.count == 4 && runs.allSatisfy { $0.outcome == "failed" })
            // Each retry waits at least half its doubling delay (the jitter is in the upper half), however busy the machine.
            let waits = zip(runs.dropFirst(), runs).map {
                $0.startedAt.timeIntervalSince($1.finishedAt ?? $1.startedAt)
            }
            #expect(waits.count == 3)
            for (index, wait) in waits.enumerated() {
                #expect(
                    wait >= 2.5 * Double(1 << index) - 0.01,
                    "retry \(index + 1) came after \(wait) s; the delays should be ≥ 2.5, 5, 10 s: \(waits)")
            }
            // The death is an event, for toasts and webhooks.
            let events = try await server.store.events.latest(projectIDs: nil, limit: 20)
            #expect(events.contains { $0.action == "job.dead" && $0.subject == "job \(poison)" })
        }
    }

    @Test(
        "cancel stops a queued job at once and a running one at its next heartbeat; finished is 409, unknown 404",
        arguments: TestDatabase.enabled)
    func cancellation(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: quick) { server in
            let running = try await enqueue(server, ["kind": "diagnostic", "payload": ["seconds": 60]])
            _ = try await server.waitForJob(running, in: [.running])
            let asked = try await server.request(.post, "/api/v1/jobs/\(running)/cancel")
            #expect(asked.status == .ok)
            #expect(try asked.json()["cancel_requested"] as? Bool == true)
            let stopped = try await server.waitForJob(running, in: [.cancelled, .succeeded, .dead], timeout: 10)
            #expect(stopped.state == .cancelled)

            // A queue no worker serves: the job waits, and cancelling it is immediate.
            let waiting = try await enqueue(server, ["kind": "diagnostic", "queue": "unserved"])
            let cancelled = try await server.request(.post, "/api/v1/jobs/\(waiting)/cancel")
            #expect(try cancelled.json()["state"] as? String == "cancelled")

            let again = try await server.request(.post, "/api/v1/jobs/\(waiting)/cancel")
            #expect(again.status == .conflict && again.headers[.contentType] == "application/problem+json")
            #expect(try await server.request(.post, "/api/v1/jobs/999999/cancel").status == .notFound)
            #expect(try await server.get("/api/v1/jobs/999999").status == .notFound)
            #expect(try await server.request(.post, "/api/v1/jobs/\(waiting)/retry").status == .conflict)
        }
    }

    @Test(
        "malformed payloads and unknown kinds are refused when enqueued, and nothing is stored",
        arguments: TestDatabase.enabled)
    func badEnqueue(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // Only jobs the requests below could have added (the scheduler adds cleanup and consolidation on its own).
            func count() async throws -> Int {
                try await server.store.jobs.list(
                    state: nil, kind: nil, projectIDs: nil, keyPrefix: nil, before: nil, limit: 500
                )
                .filter { !["maintenance.cleanup", "learner.consolidate"].contains($0.kind) }.count
            }
            let before = try await count()
            let cases: [([String: Any], String)] = [
                (["kind": "diagnostic", "payload": ["seconds": "soon"]], "seconds"),
                (["kind": "diagnostic", "payload": ["seconds": -1]], "seconds"),
                (["kind": "image.thumbnails", "payload": [:] as [String: Any]], "sha256"),
                (["kind": "image.thumbnails", "payload": ["sha256": "abc"]], "sha256"),
                (["kind": "webhook.deliver", "payload": ["webhook_id": "one"]], "webhook_id"),
                (["kind": "launch.rockets"], "launch.rockets"),
                (["kind": "diagnostic", "max_attempts": 0], "max_attempts"),
                (["payload": [:] as [String: Any]], "kind"),
            ]
            for (json, mention) in cases {
                let response = try await server.send(.post, "/api/v1/jobs", json: json)
                #expect(response.status == .badRequest, "\(json) → \(response.status) \(response.text)")
                #expect(response.text.contains(mention), "\(json) → \(response.text)")
            }
            #expect(try await count() == before)
            // The same key twice is one job.
            let first = try await server.send(
                .post, "/api/v1/jobs", json: ["kind": "diagnostic", "queue": "unserved", "idempotency_key": "once"])
            let second = try await server.send(
                .post, "/api/v1/jobs", json: ["kind": "diagnostic", "queue": "unserved", "idempotency_key": "once"])
            #expect(first.status == .created && second.status == .ok)
            #expect(try first.json()["id"] as? Int == (try second.json()["id"] as? Int))
        }
    }
}
