import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisServices
import IrisStore
import IrisTesting
import NIOCore
import Testing

@testable import IrisServer

@Suite("The audit log as a live stream")
struct EventStreamTests {
    /// Parses `id:` / `event:` / `data:` blocks of an event stream.
    func events(in text: String) -> [(id: Int, name: String, data: [String: Any])] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var id: Int?
            var name = ""
            var data: [String: Any] = [:]
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = Int(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") {
                    data =
                        (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]) ?? [:]
                }
            }
            return id.map { ($0, name, data) }
        }
    }

    @Test(
        "SSE resumes after Last-Event-ID, shows each caller only their projects' events, and ends on time",
        arguments: TestDatabase.enabled)
    func stream(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: bob owns one project; the admin owns another
            let bob = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "bob", password: "bob-password", isAdmin: false)
            let bobToken = TestServer.bearer(
                try await TestAccounts.token(for: bob, scopes: [.read, .write], in: server.store))
            let bobs = try await server.acting(as: bobToken).createProject("bob's")
            let admins = try await server.createProject("admin's")
            _ = try await server.upload(try Fixtures.jpeg(seed: 1), to: admins)
            _ = try await server.acting(as: bobToken).upload(try Fixtures.jpeg(seed: 2), to: bobs)
            // act: bob streams from the beginning; the stream ends after its one-second timeout
            let start = ContinuousClock.now
            let response = try await server.acting(as: bobToken).get(
                "/api/v1/events?timeout=1", headers: [.accept: "text/event-stream", .init("Last-Event-ID")!: "0"])
            // check
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream")
            #expect(ContinuousClock.now - start >= .seconds(1))
            let seen = events(in: response.text)
            #expect(seen.map(\.name) == ["project.created", "image.uploaded"])
            #expect(seen.allSatisfy { $0.data["project_id"] as? Int == Int(bobs) })
            #expect(seen.last?.data["actor"] as? String == "bob (token test)")
            // Resuming after the last id gives nothing old; the admin sees both projects.
            let resumed = try await server.acting(as: bobToken).get(
                "/api/v1/events?timeout=1",
                headers: [.accept: "text/event-stream", .init("Last-Event-ID")!: String(seen.last!.id)])
            #expect(events(in: resumed.text).isEmpty)
            let all = try await server.get(
                "/api/v1/events?timeout=1", headers: [.accept: "text/event-stream", .init("Last-Event-ID")!: "0"])
            #expect(Set(events(in: all.text).compactMap { $0.data["project_id"] as? Int }) == [Int(bobs), Int(admins)])
            // The JSON form pages the same log.
            let page = try await server.acting(as: bobToken).get("/api/v1/events?limit=1").json()
            #expect((page["items"] as? [Any])?.count == 1 && page["next_cursor"] as? String != nil)
            let bad = try await server.get(
                "/api/v1/events", headers: [.accept: "text/event-stream", .init("Last-Event-ID")!: "yesterday"])
            #expect(bad.status == .badRequest)
        }
    }

    @Test(
        "an open stream loses a project's events when its membership goes, and ends when its token is revoked",
        .timeLimit(.minutes(3)), arguments: TestDatabase.enabled)
    func accessChangesMidStream(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: carol views the admin's project through a token.
            let carol = try await Accounts(store: server.store, bcryptCost: 10).create(
                username: "carol", password: "carol-password", isAdmin: false)
            let project = try await server.createProject("watched")
            try await server.store.accounts.setRole(projectID: project, userID: carol.id, .viewer)
            let secret = try await TestAccounts.token(for: carol, scopes: [.read], in: server.store)
            let tokenID = try #require(try await server.store.accounts.tokens(userID: carol.id).first?.id)
            func note(_ subject: String) async throws {
                _ = try await server.store.events.append(
                    Event(
                        actorKind: "system", actorID: nil, actorName: "test", action: "project.updated",
                        projectID: project, subject: subject))
            }

            // act: carol streams for up to 30 s while her access is taken away, step by step.
            // From the log's end now, however long the server takes to start the stream.
            let last = try await server.store.events.latest(projectIDs: nil, limit: 1).first?.id ?? 0
            let started = ContinuousClock.now
            async let streamed = server.acting(as: TestServer.bearer(secret)).get(
                "/api/v1/events?timeout=30",
                headers: [.accept: "text/event-stream", .init("Last-Event-ID")!: String(last)])
            try await Task.sleep(for: .seconds(1))
            try await note("while a member")
            try await Task.sleep(for: .seconds(1))
            try await server.store.accounts.setRole(projectID: project, userID: carol.id, nil)
            try await Task.sleep(for: EventController.recheckEvery + .seconds(1.5))
            try await note("after leaving")
            try await Task.sleep(for: .seconds(1))
            _ = try await server.store.accounts.revokeToken(id: tokenID, userID: nil)
            let response = try await streamed

            // check
            let subjects = events(in: response.text).compactMap { $0.data["subject"] as? String }
            #expect(subjects == ["while a member"], "\(response.text)")
            #expect(ContinuousClock.now - started < .seconds(20), "the stream outlived the token's revocation")
        }
    }

    @Test("a caller may hold only so many live streams; a closed or lapsed one frees its place")
    func streamsPerCaller() async throws {
        let streams = OpenStreams(limit: 3)
        var slots: [OpenStreams.Slot] = []
        for index in 0..<3 {
            slots.append(try await streams.open(["user:1", "address:10.0.0.\(index)"], for: .seconds(60)))
        }
        // The fourth for the same user is refused, from any address; another user is not.
        await #expect { try await streams.open(["user:1", "address:10.0.0.9"], for: .seconds(60)) } throws: {
            ($0 as? Problem)?.status == 429
        }
        _ = try await streams.open(["user:2", "address:10.0.0.9"], for: .seconds(60))
        await streams.close(slots[0])
        _ = try await streams.open(["user:1", "address:10.0.0.8"], for: .seconds(60))
        // A stream whose slot was never given back lapses after its life.
        let short = OpenStreams(limit: 1)
        _ = try await short.open(["user:3"], for: .milliseconds(50))
        try await Task.sleep(for: .milliseconds(100))
        _ = try await short.open(["user:3"], for: .seconds(60))
        #expect(await short.count("user:3") == 1)
    }
}
