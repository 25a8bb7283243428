import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IrisCore
import IrisStore
import IrisTesting
import NIOConcurrencyHelpers
import Testing

@testable import IrisServer
@testable import IrisServices

/// A real HTTP server on loopback that records what it receives: the far end of webhooks.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        var path: String
        var headers: HTTPFields
        var body: Data
    }

    let failFirst: Int
    private let received = NIOLockedValueBox<[Received]>([])

    init(failFirst: Int = 0) { self.failFirst = failFirst }

    var requests: [Received] { received.withLockedValue { $0 } }

    /// Runs the receiver on a free port while `body` runs.
    func run(_ body: @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let count = try await self.record(request)
            return Response(status: count <= self.failFirst ? .internalServerError : .ok)
        }
        // A receiver that refuses for good (410, so one attempt) and echoes the secret in its
        // URL, as chat services' errors do.
        router.post("services/{secret}") { request, context -> Response in
            _ = try await self.record(request)
            let secret = context.parameters.get("secret") ?? ""
            return Response(status: .gone, body: .init(byteBuffer: ByteBuffer(string: "invalid_token \(secret)")))
        }
        router.post("redirect") { request, _ -> Response in
            _ = try await self.record(request)
            return Response(status: .found, headers: [.location: "http://10.255.255.1/hook"])
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body(try #require(client.port))
        }
    }

    private func record(_ request: Request) async throws -> Int {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        let entry = Received(path: request.uri.path, headers: request.headers, body: Data(buffer.readableBytesView))
        return received.withLockedValue {
            $0.append(entry)
            return $0.count
        }
    }

    func waitFor(_ count: Int, timeout: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while requests.count < count && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(requests.count >= count, "the receiver got \(requests.count) of \(count) requests")
    }
}

@Suite("Webhooks")
struct WebhookTests {
    func allowingLoopback(_ settings: inout IrisSettings) {
        settings.jobs.webhookAllowNetworks = [IPNetwork("127.0.0.1/32")!]
        settings.jobs.backoff = Backoff(base: 0.2)
    }

    @Test(
        "deliveries are signed, retried with backoff until the receiver takes them, and every attempt is visible",
        arguments: TestDatabase.enabled)
    func delivery(database: TestDatabase) async throws {
        let receiver = WebhookReceiver(failFirst: 2)
        try await receiver.run { port in
            try await TestServer.with(database, configure: allowingLoopback) { server in
                let project = try await server.createProject("hooked")
                let created = try await server.send(
                    .post, "/api/v1/projects/\(project)/webhooks",
                    json: ["url": "http://127.0.0.1:\(port)/hook", "event_types": ["image.uploaded"]])
                #expect(created.status == .created, "\(created.text)")
                let hook = try created.json()
                let secret = try #require(hook["secret"] as? String)
                let hookID = try #require(hook["id"] as? Int)
                // The listing never shows the secret.
                #expect(try await server.get("/api/v1/projects/\(project)/webhooks").text.contains(secret) == false)

                let upload = try await server.upload(try Fixtures.jpeg(seed: 4), to: project)
                let sha256 = try #require(try upload.json()["sha256"] as? String)
                try await receiver.waitFor(3)
                try await server.settle()

                let requests = receiver.requests
                #expect(requests.count == 3)
                for request in requests {
                    let timestamp = try #require(request.headers[HTTPField.Name("X-Iris-Timestamp")!])
                    var message = Data(timestamp.utf8)
                    message.append(UInt8(ascii: "."))
                    message.append(request.body)
                    let expected = HMAC<SHA256>.authenticationCode(
                        for: message, using: SymmetricKey(data: Data(secret.utf8)))
                    let hex = Data(expected).map { String(format: "%02x", $0) }.joined()
                    #expect(request.headers[HTTPField.Name("X-Iris-Signature")!] == "sha256=" + hex)
                    #expect(request.headers[HTTPField.Name("X-Iris-Event")!] == "image.uploaded")
                    let body = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
                    #expect(body["type"] as? String == "image.uploaded" && body["subject"] as? String == sha256)
                    #expect(body["project_id"] as? Int == Int(project))
                }
                // One delivery (the same id on every attempt), three attempts, the last one taken.
                #expect(Set(requests.map { $0.headers[HTTPField.Name("X-Iris-Delivery")!] }).count == 1)
                let deliveries = try await server.get("/api/v1/projects/\(project)/webhooks/\(hookID)/deliveries")
                    .json()
                let items = try #require(deliveries["items"] as? [[String: Any]])
                #expect(items.count == 1)
                #expect(items.first?["state"] as? String == "succeeded")
                let runs = try #require(items.first?["runs"] as? [[String: Any]])
                #expect(runs.compactMap { $0["outcome"] as? String } == ["failed", "failed", "succeeded"])
                #expect(
                    runs.compactMap { $0["detail"] as? String }.map { $0.prefix(8) } == [
                        "HTTP 500", "HTTP 500", "HTTP 200",
                    ])
                // A deleted webhook gets nothing more.
                #expect(try await server.delete("/api/v1/projects/\(project)/webhooks/\(hookID)").status == .noContent)
                _ = try await server.upload(try Fixtures.jpeg(seed: 5), to: project)
                try await Task.sleep(for: .seconds(1.5))
                try await server.settle()
                #expect(receiver.requests.count == 3)
            }
        }
    }

    @Test(
        "URLs that reach loopback, private or link-local addresses are refused unless allowed; bad fields are 400s",
        arguments: TestDatabase.enabled)
    func refusal(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("guarded")
            let cases: [([String: Any], String)] = [
                (["url": "http://127.0.0.1:9/hook"], "127.0.0.1"),
                (["url": "http://localhost:9/hook"], "loopback"),
                (["url": "http://10.1.2.3/hook"], "10.1.2.3"),
                (["url": "http://169.254.169.254/latest/meta-data"], "169.254.169.254"),
                (["url": "http://[::1]:9/hook"], "::1"),
                (["url": "http://[::ffff:192.168.0.1]/hook"], "private"),
                (["url": "ftp://example.org/hook"], "http"),
                (["url": "http://user:pw@example.org/hook"], "password"),
                (["url": "https://example.org/hook", "event_types": ["image.exploded"]], "image.exploded"),
            ]
            for (json, mention) in cases {
                let response = try await server.send(.post, "/api/v1/projects/\(project)/webhooks", json: json)
                #expect(response.status == .badRequest, "\(json) → \(response.status)")
                #expect(response.text.contains(mention), "\(json) → \(response.text)")
            }
            #expect(try await server.rowCount("webhooks") == 0)
        }
    }

    @Test("a redirect to a private address is refused at delivery time", arguments: TestDatabase.enabled)
    func redirect(database: TestDatabase) async throws {
        let receiver = WebhookReceiver()
        try await receiver.run { port in
            try await TestServer.with(database, configure: allowingLoopback) { server in
                let project = try await server.createProject("redirected")
                let created = try await server.send(
                    .post, "/api/v1/projects/\(project)/webhooks",
                    json: ["url": "http://127.0.0.1:\(port)/redirect", "event_types": ["image.uploaded"]])
                #expect(created.status == .created)
                _ = try await server.upload(try Fixtures.jpeg(seed: 6), to: project)
                try await receiver.waitFor(1)
                try await server.settle()
                let job = try #require(
                    try await server.store.jobs.list(
                        state: nil, kind: "webhook.deliver", projectIDs: nil, keyPrefix: nil, before: nil, limit: 10
                    ).first)
                #expect(job.state == .failed)
                // Why is in the attempt's note, shown to owners; the error names the webhook by host.
                #expect(job.error?.contains("127.0.0.1") == true, "\(job.error ?? "")")
                #expect(job.error?.contains("/redirect") == false, "\(job.error ?? "")")
                let shown = try await server.get("/api/v1/jobs/\(job.id)").text
                #expect(shown.contains("10.255.255.1"), "\(shown)")
                #expect(receiver.requests.count == 1)
            }
        }
    }

    @Test(
        "a webhook's URL and its receiver's replies are shown to owners only, never to viewers",
        arguments: TestDatabase.enabled)
    func secrecy(database: TestDatabase) async throws {
        let receiver = WebhookReceiver()
        try await receiver.run { port in
            try await TestServer.with(database, configure: allowingLoopback) { server in
                // setup
                let secret = "T000SECRETKEY0000"
                let project = try await server.createProject("chatty")
                let viewer = try await Accounts(store: server.store, bcryptCost: 10).create(
                    username: "vera", password: "vera-password", isAdmin: false)
                try await server.store.accounts.setRole(projectID: project, userID: viewer.id, .viewer)
                let asViewer = server.acting(
                    as: TestServer.bearer(try await TestAccounts.token(for: viewer, scopes: [.read], in: server.store)))

                // act
                let created = try await server.send(
                    .post, "/api/v1/projects/\(project)/webhooks",
                    json: ["url": "http://127.0.0.1:\(port)/services/\(secret)", "event_types": ["image.uploaded"]])
                #expect(created.status == .created, "\(created.text)")
                _ = try await server.upload(try Fixtures.jpeg(seed: 7), to: project)
                try await receiver.waitFor(1)
                try await server.settle()

                // check: the viewer sees the webhook's events and jobs, but neither the URL nor the reply.
                let events = try await asViewer.get("/api/v1/events?limit=100")
                #expect(events.status == .ok && events.text.contains("webhook.created"), "\(events.text)")
                let jobs = try await asViewer.get("/api/v1/jobs?kind=webhook.deliver")
                let items = try #require(try jobs.json()["items"] as? [[String: Any]])
                let jobID = try #require(items.first?["id"] as? Int, "\(jobs.text)")
                let job = try await asViewer.get("/api/v1/jobs/\(jobID)")
                let page = try await asViewer.get("/jobs")
                for (what, text) in [
                    ("events", events.text), ("jobs", jobs.text), ("job", job.text), ("page", page.text),
                ] {
                    #expect(!text.contains(secret) && !text.contains("invalid_token"), "\(what): \(text)")
                }
                #expect(job.text.contains("webhook 1 (127.0.0.1) answered 410"), "\(job.text)")
                // The owner's delivery log has the whole story.
                let hookID = try #require(try created.json()["id"] as? Int)
                let log = try await server.get("/api/v1/projects/\(project)/webhooks/\(hookID)/deliveries")
                #expect(log.text.contains("invalid_token \(secret)"), "\(log.text)")
            }
        }
    }
}
