import Foundation
import IrisCore
import IrisStore
import IrisTesting
import Testing

/// The per-image lock holds across processes: two `IrisDatabase`s on one database (as two
/// `iris serve` processes have) never run the same key's work at once, and different keys
/// do not wait for each other.
@Suite("A lock per image across processes")
struct ExclusiveLockTests {
    actor Timeline {
        var entries: [String] = []
        func note(_ entry: String) { entries.append(entry) }
    }

    @Test(
        "a second database handle waits for the key the first holds, not for another key",
        arguments: TestDatabase.enabled)
    func waits(database: TestDatabase) async throws {
        try await TemporaryFolder.with { folder in
            try await database.withFreshDatabase(in: folder) { location in
                let first = try IrisDatabase(location: location, poolSize: 2, logger: TestDatabase.logger)
                let second = try IrisDatabase(location: location, poolSize: 2, logger: TestDatabase.logger)
                let timeline = Timeline()
                let key = String(repeating: "ab", count: 32)
                let other = String(repeating: "cd", count: 32)
                // act: the first holds the key until the second has taken another key (or a
                // minute has passed: then the other key waited, and the check below fails); the
                // second asks for both once the first holds it.
                let holder = Task {
                    try await first.withExclusiveLock(key) {
                        await timeline.note("first holds")
                        let deadline = ContinuousClock.now + .seconds(60)
                        while await !timeline.entries.contains("second holds another"), ContinuousClock.now < deadline {
                            try await Task.sleep(for: .milliseconds(20))
                        }
                        try await Task.sleep(for: .milliseconds(200))
                        await timeline.note("first lets go")
                    }
                }
                while await !timeline.entries.contains("first holds") { try await Task.sleep(for: .milliseconds(10)) }
                async let same: Void = second.withExclusiveLock(key) { await timeline.note("second holds the key") }
                async let different: Void = second.withExclusiveLock(other) {
                    await timeline.note("second holds another")
                }
                _ = try await (same, different)
                try await holder.value
                // check
                let entries = await timeline.entries
                let index = { (entry: String) in entries.firstIndex(of: entry) ?? -1 }
                #expect(index("second holds the key") > index("first lets go"), "\(entries)")
                #expect(index("second holds another") < index("first lets go"), "\(entries)")
                await first.shutdown()
                await second.shutdown()
            }
        }
    }

    @Test(
        "many keys sharing a lock file, each querying the database while held, all finish (no thread is held waiting)",
        .timeLimit(.minutes(2)), arguments: TestDatabase.enabled)
    func sharedLockFile(database: TestDatabase) async throws {
        try await TemporaryFolder.with { folder in
            try await database.withFreshDatabase(in: folder) { location in
                let handle = try IrisDatabase(location: location, poolSize: 2, logger: TestDatabase.logger)
                // act: 24 keys with the same first two characters (one lock file on SQLite) at
                // once; each holder runs queries, which need the threads waiters must not hold.
                let finished: Int
                do {
                    finished = try await withThrowingTaskGroup(of: Int.self) { group in
                        for index in 0..<24 {
                            group.addTask {
                                let key = "ab" + String(format: "%062x", index)
                                return try await handle.withExclusiveLock(key) {
                                    var answered = 0
                                    for _ in 0..<3 where await handle.ping() { answered += 1 }
                                    return answered == 3 ? 1 : 0
                                }
                            }
                        }
                        return try await group.reduce(0, +)
                    }
                } catch {
                    await handle.shutdown()
                    throw error
                }
                // check
                #expect(finished == 24)
                await handle.shutdown()
            }
        }
    }
}
