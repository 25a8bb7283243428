import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisBlobs
import IrisCore
import IrisServer
import IrisServices
import IrisStore
import IrisTesting
import NIOCore
import SQLKit
import Testing

/// An image's thumbnail and analysis jobs commit with its row; an image an older version left
/// without them (a crash between the row and the jobs) gets them from a repeated upload or
/// from the cleanup sweep.
@Suite("Follow-up jobs of stored images")
struct FollowUpJobTests {
    func keys(_ server: TestServer, _ sha256: String) async throws -> Set<String> {
        try await server.store.database.withConnection { db in
            Set(
                try await db.raw(
                    "SELECT idempotency_key FROM jobs WHERE idempotency_key LIKE \(bind: "%" + sha256 + "%")"
                ).all().map {
                    try $0.decode(column: "idempotency_key", as: String.self)
                })
        }
    }

    /// What a crash in an older version left: the row, and no job or result.
    func loseFollowUps(_ server: TestServer, _ sha256: String) async throws {
        try await server.store.database.withConnection { db in
            try await db.raw("DELETE FROM jobs WHERE idempotency_key LIKE \(bind: "%" + sha256 + "%")").run()
            try await db.raw("DELETE FROM analyses WHERE sha256 = \(bind: sha256)").run()
        }
    }

    @Test(
        "lost follow-up jobs come back with a repeated upload and with the cleanup sweep",
        arguments: TestDatabase.enabled)
    func repaired(database: TestDatabase) async throws {
        try await TestServer.with(database, configure: { $0.models.autoModels = ["mobilenet-v2"] }) { server in
            // setup
            let project = try await server.createProject("p")
            let photo = try Fixtures.jpeg(width: 320, height: 240, seed: 21)
            let first = try await server.upload(photo, to: project)
            #expect(first.status == .created)
            let sha256 = try #require(try first.json()["sha256"] as? String)
            let wanted: Set<String> = ["thumbnails:\(sha256)", "analyze:\(sha256):mobilenet-v2"]
            #expect(try await keys(server, sha256) == wanted)
            try await server.settle(timeout: 60)

            // act: the same bytes again, after the jobs (and the large thumbnail they would have made) were lost
            try await loseFollowUps(server, sha256)
            try await server.dependencies.blobs.delete(.thumbnail(sha256, size: 1024))
            #expect(try await keys(server, sha256).isEmpty)
            let again = try await server.upload(photo, to: project)
            #expect(again.status == .ok)
            // check
            #expect(try await keys(server, sha256) == wanted)
            try await server.settle(timeout: 60)
            // A repeat with nothing lost queues nothing more.
            let jobsBefore = try await server.rowCount("jobs")
            _ = try await server.upload(photo, to: project)
            #expect(try await server.rowCount("jobs") == jobsBefore)

            // act: lost again, then the cleanup sweep
            try await loseFollowUps(server, sha256)
            let cleanup = try await server.send(
                .post, "/api/v1/jobs", json: ["kind": "maintenance.cleanup", "payload": ["min_age_seconds": 0]])
            #expect(cleanup.status == .created, "\(cleanup.text)")
            let id = try #require(try cleanup.json()["id"] as? Int)
            let done = try await server.waitForJob(Int64(id), in: [.succeeded, .failed, .dead], timeout: 60)
            // check: the analysis is queued again; the thumbnail route makes sizes on demand
            #expect(done.state == .succeeded, "\(done.error ?? "")")
            #expect(done.result?.contains("\"requeued_analyses\":1") == true, "\(done.result ?? "")")
            #expect(try await keys(server, sha256) == ["analyze:\(sha256):mobilenet-v2"])
            try await server.settle(timeout: 60)
            // The requeued analysis ran: the model's answer is there, not just a 200.
            let analysed = try await server.get("/api/v1/analyses/\(sha256)").json()
            let status = (analysed["models"] as? [String: Any])?["mobilenet-v2"] as? [String: Any]
            let labels = (status?["result"] as? [String: Any])?["labels"] as? [Any]
            #expect(status?["state"] as? String == "succeeded" && labels?.isEmpty == false, "\(analysed)")
        }
    }
}
