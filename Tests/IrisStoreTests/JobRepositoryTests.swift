import Foundation
import IrisCore
import IrisStore
import IrisTesting
import Testing

@Suite("The job repository: the queue in the database")
struct JobRepositoryTests {
    func request(
        _ key: String? = nil, queue: String = "q", priority: Int = 0, maxAttempts: Int = 3, runAfter: Date? = nil
    ) -> JobRequest {
        JobRequest(
            kind: "diagnostic", payload: "{}", queue: queue, priority: priority, maxAttempts: maxAttempts,
            runAfter: runAfter, idempotencyKey: key)
    }

    @Test(
        "an idempotency key names one live or succeeded job; a dead or cancelled one steps aside",
        arguments: TestDatabase.enabled)
    func idempotency(database: TestDatabase) async throws {
        try await database.withStore { store in
            let first = try await store.jobs.enqueue(request("k"))
            let again = try await store.jobs.enqueue(request("k"))
            #expect(first.created && !again.created)
            #expect(again.job.id == first.job.id)
            // Succeeded: still the same job.
            let claimed = try #require(try await store.jobs.claim(queues: ["q"], worker: "w", lease: 30))
            #expect(
                try await store.jobs.finish(claimed, worker: "w", outcome: .succeeded(result: "{}"), next: nil).recorded
            )
            #expect(try await store.jobs.enqueue(request("k")).job.id == first.job.id)
            // Cancelled: a new job may take the key.
            let other = try await store.jobs.enqueue(request("c"))
            #expect(try await store.jobs.cancel(id: other.job.id).state == .cancelled)
            let fresh = try await store.jobs.enqueue(request("c"))
            #expect(fresh.created && fresh.job.id != other.job.id)
            #expect(
                try await store.jobs.list(
                    state: nil, kind: nil, projectIDs: nil, keyPrefix: nil, before: nil, limit: 50
                ).count == 3)
        }
    }

    @Test(
        "claims take the highest priority first, skip jobs not yet due and other queues",
        arguments: TestDatabase.enabled)
    func claimOrder(database: TestDatabase) async throws {
        try await database.withStore { store in
            let low = try await store.jobs.enqueue(request(priority: 0)).job
            let high = try await store.jobs.enqueue(request(priority: 5)).job
            _ = try await store.jobs.enqueue(request(priority: 9, runAfter: Date().addingTimeInterval(3600)))
            _ = try await store.jobs.enqueue(request(queue: "elsewhere", priority: 10))
            let first = try #require(try await store.jobs.claim(queues: ["q"], worker: "w", lease: 30))
            let second = try #require(try await store.jobs.claim(queues: ["q"], worker: "w", lease: 30))
            #expect(first.id == high.id && second.id == low.id)
            #expect(first.state == .running && first.attempts == 1 && first.leaseOwner == "w")
            #expect(try await store.jobs.claim(queues: ["q"], worker: "w", lease: 30) == nil)
            #expect(try await store.jobs.nextDue(queues: ["q"]).map { $0 > Date().addingTimeInterval(3000) } == true)
        }
    }

    @Test("concurrent claimers never take the same job", arguments: TestDatabase.enabled)
    func exclusiveClaims(database: TestDatabase) async throws {
        try await database.withStore { store in
            _ = try await store.jobs.enqueue((0..<40).map { _ in request() })
            let taken = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        var mine: [Int64] = []
                        while let job = try await store.jobs.claim(queues: ["q"], worker: "w\(worker)", lease: 30) {
                            mine.append(job.id)
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(taken.count == 40)
            #expect(Set(taken).count == 40)
        }
    }

    @Test(
        "a failure is retried after a delay, then the job is dead with its last error; retry starts it afresh",
        arguments: TestDatabase.enabled)
    func failures(database: TestDatabase) async throws {
        try await database.withStore { store in
            // A failure with attempts left waits out its delay.
            let later = try await store.jobs.enqueue(request(maxAttempts: 2)).job.id
            let first = try #require(try await store.jobs.claim(queues: ["q"], worker: "w", lease: 30))
            _ = try await store.jobs.finish(
                first, worker: "w", outcome: .failed(error: "first", retryIn: 3600), next: nil)
            let waiting = try #require(try await store.jobs.find(id: later))
            #expect(
                waiting.state == .queued && waiting.error == "first"
                    && waiting.runAfter > Date().addingTimeInterval(3000))
            #expect(try await store.jobs.claim(queues: ["q"], worker: "w", lease: 30) == nil)
            _ = try await store.jobs.cancel(id: later)

            // Out of attempts: dead, with the last error and every attempt kept.
            let id = try await store.jobs.enqueue(request(maxAttempts: 2)).job.id
            for error in ["one", "two"] {
                let job = try #require(try await store.jobs.claim(queues: ["q"], worker: "w", lease: 30))
                _ = try await store.jobs.finish(job, worker: "w", outcome: .failed(error: error, retryIn: 0), next: nil)
            }
            let stored = try #require(try await store.jobs.find(id: id))
            #expect(stored.state == .dead && stored.error == "two" && stored.attempts == 2 && stored.finishedAt != nil)
            let runs = try await store.jobs.runs(jobID: id)
            #expect(runs.map(\.outcome) == ["failed", "failed"] && runs.map(\.error) == ["one", "two"])
            // Finished jobs cannot be cancelled; dead ones can be retried, once.
            await #expect(throws: StoreError.self) { try await store.jobs.cancel(id: id) }
            let retried = try await store.jobs.retry(id: id)
            #expect(retried.state == .queued && retried.attempts == 0)
            await #expect(throws: StoreError.self) { try await store.jobs.retry(id: id) }
            await #expect(throws: StoreError.self) { try await store.jobs.cancel(id: 999_999) }
        }
    }

    @Test(
        "a job whose lease runs out is put back and claimed again; its dead worker can no longer report",
        arguments: TestDatabase.enabled)
    func leases(database: TestDatabase) async throws {
        try await database.withStore { store in
            let id = try await store.jobs.enqueue(request()).job.id
            let lost = try #require(try await store.jobs.claim(queues: ["q"], worker: "dead", lease: 0.05))
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await store.jobs.reapExpiredLeases() == 1)
            let again = try #require(try await store.jobs.claim(queues: ["q"], worker: "alive", lease: 30))
            #expect(again.id == id && again.attempts == 2)
            #expect(
                try await store.jobs.heartbeat(id: id, worker: "dead", lease: 30, progress: 0.5, message: nil) == .lost)
            #expect(
                try await store.jobs.finish(lost, worker: "dead", outcome: .succeeded(result: "{}"), next: nil).recorded
                    == false)
            #expect(
                try await store.jobs.heartbeat(id: id, worker: "alive", lease: 30, progress: 0.5, message: "half")
                    == .held(cancelRequested: false))
            #expect(try await store.jobs.find(id: id)?.progressMessage == "half")
            _ = try await store.jobs.cancel(id: id)
            #expect(
                try await store.jobs.heartbeat(id: id, worker: "alive", lease: 30, progress: nil, message: nil)
                    == .held(cancelRequested: true))
            #expect(try await store.jobs.finish(again, worker: "alive", outcome: .cancelled, next: nil).recorded)
            #expect(try await store.jobs.runs(jobID: id).map(\.outcome) == ["lost", "cancelled"])
            #expect(try await store.jobs.find(id: id)?.state == .cancelled)
        }
    }

    @Test("a released job goes back without using an attempt", arguments: TestDatabase.enabled)
    func release(database: TestDatabase) async throws {
        try await database.withStore { store in
            let id = try await store.jobs.enqueue(request()).job.id
            let job = try #require(try await store.jobs.claim(queues: ["q"], worker: "w", lease: 30))
            let answer = try await store.jobs.finish(
                job, worker: "w", outcome: .released, next: (queues: ["q"], lease: 30, limit: 1))
            #expect(answer.recorded)
            // SQLite's next claim (later in the same transaction) may take it at once; PostgreSQL's (same statement) cannot.
            var taken = answer.next.first
            if taken == nil { taken = try await store.jobs.claim(queues: ["q"], worker: "w", lease: 30) }
            let again = try #require(taken)
            #expect(again.id == id && again.attempts == 1)
            #expect(try await store.jobs.runs(jobID: id).map(\.outcome) == ["released", "running"])
        }
    }
}
