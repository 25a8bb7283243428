import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisClient
import IrisCore
import IrisServices
import IrisStore
import IrisTesting
import SQLKit
import Testing

@testable import IrisServer

/// `GET /api/v1/jobs` with its filters (state, kind, project, creation time), keyset pages,
/// refusals, and the jobs and history pages that use them: nobody sees another project's
/// jobs or events through a filter.
@Suite("Job lists: filters, pages and who sees what")
struct JobListTests {
    /// Two projects with queued jobs on a queue no worker serves (so they stay as made): in
    /// alpha 4 `diagnostic` and 2 `image.thumbnails`, then (after `middle`) 3 more `diagnostic`;
    /// in bravo 2 `diagnostic`. A viewer of alpha only.
    struct Setting {
        var alpha: Int64
        var bravo: Int64
        var middle: Date
        var early: [Job]
        var late: [Job]
        var bravoJobs: [Job]
        var viewer: TestServer
    }

    func setting(_ server: TestServer) async throws -> Setting {
        let alpha = try await server.createProject("alpha")
        let bravo = try await server.createProject("bravo-secret-project")
        func add(_ kind: String, _ project: Int64, _ count: Int) async throws -> [Job] {
            try await server.store.jobs.enqueue(
                (0..<count).map { _ in JobRequest(kind: kind, payload: "{}", queue: "unserved", projectID: project) })
        }
        let early = try await add("diagnostic", alpha, 4) + add("image.thumbnails", alpha, 2)
        let bravoJobs = try await add("diagnostic", bravo, 2)
        try await Task.sleep(for: .milliseconds(30))
        let middle = Date()
        try await Task.sleep(for: .milliseconds(30))
        let late = try await add("diagnostic", alpha, 3)
        let user = try await Accounts(store: server.store, bcryptCost: 10).create(
            username: "vera", password: "vera-password", isAdmin: false)
        try await server.store.accounts.setRole(projectID: alpha, userID: user.id, .viewer)
        let token = try await TestAccounts.token(for: user, scopes: [.read], in: server.store)
        return Setting(
            alpha: alpha, bravo: bravo, middle: middle, early: early, late: late, bravoJobs: bravoJobs,
            viewer: server.acting(as: TestServer.bearer(token)))
    }

    /// The ids a list answers, and its next cursor.
    func ids(_ server: TestServer, _ query: String) async throws -> (ids: [Int64], next: String?) {
        let response = try await server.get("/api/v1/jobs?\(query)")
        #expect(response.status == .ok, "\(query): \(response.text)")
        let page = try response.decoded(as: TestPage<Components.Schemas.Job>.self)
        return (page.items.map { Int64($0.id) }, page.nextCursor)
    }

    @Test("each filter and their combinations select exactly the matching jobs", arguments: TestDatabase.enabled)
    func filters(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup
            let setting = try await setting(server)
            let (alpha, bravo) = (setting.alpha, setting.bravo)
            let middle = Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(setting.middle)
            let newestFirst = { (jobs: [Job]) in jobs.map(\.id).sorted(by: >) }
            let alphaDiagnostic = setting.early.filter { $0.kind == "diagnostic" } + setting.late
            // act, check
            #expect(
                try await ids(server, "project_id=\(alpha)&kind=diagnostic").ids == newestFirst(alphaDiagnostic))
            #expect(try await ids(server, "project_id=\(bravo)").ids == newestFirst(setting.bravoJobs))
            #expect(
                try await ids(server, "project_id=\(alpha)&kind=image.thumbnails&state=queued").ids
                    == newestFirst(setting.early.filter { $0.kind == "image.thumbnails" }))
            #expect(try await ids(server, "project_id=\(alpha)&state=succeeded").ids == [])
            #expect(
                try await ids(server, "project_id=\(alpha)&created_since=\(middle)").ids == newestFirst(setting.late))
            #expect(
                try await ids(server, "project_id=\(alpha)&created_before=\(middle)&kind=diagnostic").ids
                    == newestFirst(setting.early.filter { $0.kind == "diagnostic" }))
            // A day takes the whole day from its start (UTC): today's jobs are all after yesterday's start.
            let today = Date().formatted(.iso8601.year().month().day())
            let tomorrow = Date().addingTimeInterval(86_400).formatted(.iso8601.year().month().day())
            #expect(
                try await ids(server, "project_id=\(bravo)&created_since=\(today)&created_before=\(tomorrow)").ids
                    == newestFirst(setting.bravoJobs))
            #expect(try await ids(server, "project_id=\(bravo)&created_before=\(today)").ids == [])
        }
    }

    @Test(
        "keyset pages through a filter never repeat or skip a job, even as new ones arrive",
        arguments: TestDatabase.enabled)
    func pages(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup
            let setting = try await setting(server)
            let expected = (setting.early.filter { $0.kind == "diagnostic" } + setting.late).map(\.id).sorted(by: >)
            // act: pages of 2 of alpha's diagnostic jobs; a new one arrives after the first page
            var seen: [Int64] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await ids(
                    server,
                    "project_id=\(setting.alpha)&kind=diagnostic&limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                seen += page.ids
                cursor = page.next
                pages += 1
                if pages == 1 {
                    _ = try await server.store.jobs.enqueue(
                        JobRequest(kind: "diagnostic", payload: "{}", queue: "unserved", projectID: setting.alpha))
                }
            } while cursor != nil && pages < 10
            // check: every job that was there, once each, newest first, in 4 pages (2+2+2+1)
            #expect(seen == expected)
            #expect(pages == 4)
        }
    }

    @Test("a viewer never sees another project's jobs, whatever the filter", arguments: TestDatabase.enabled)
    func visibility(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup
            let setting = try await setting(server)
            let bravoIDs = Set(setting.bravoJobs.map(\.id))
            // act, check: asking for bravo finds nothing; no filter shows only alpha's
            for query in [
                "project_id=\(setting.bravo)", "project_id=\(setting.bravo)&kind=diagnostic",
                "project_id=\(setting.bravo)&state=queued", "kind=diagnostic", "state=queued", "limit=500",
                "created_since=2000-01-01",
            ] {
                let shown = try await ids(setting.viewer, query).ids
                #expect(bravoIDs.isDisjoint(with: shown), "\(query) showed bravo's jobs")
                if query.hasPrefix("project_id=\(setting.bravo)") { #expect(shown.isEmpty, "\(query)") }
            }
            #expect(try await ids(setting.viewer, "project_id=\(setting.alpha)").ids.count == 9)
            // The pages too: neither the jobs page nor the history filtered to bravo names it.
            for path in [
                "/jobs?project_id=\(setting.bravo)", "/history?project_id=\(setting.bravo)", "/jobs", "/history",
            ] {
                let page = try await setting.viewer.get(path)
                #expect(page.status == .ok, "\(path): \(page.status)")
                #expect(!page.text.contains("bravo-secret"), "\(path) names bravo")
            }
            // The administrator's filter to bravo finds bravo's jobs, by name on the page.
            let page = try await server.get(
                "/jobs?state=&kind=&project_id=\(setting.bravo)&created_since=&created_before=")
            #expect(page.status == .ok && page.text.contains("bravo-secret-project"), "\(page.text.prefix(300))")
            #expect(page.text.components(separatedBy: "<tr data-id=").count - 1 == 2)
        }
    }

    @Test(
        "the history names a flagged photo to editors only, as the photo page shows it", arguments: TestDatabase.enabled
    )
    func flaggedPhotos(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: a photo of alpha whose moderation score is over the threshold
            let setting = try await setting(server)
            let sha256 = try #require(
                try await server.upload(try Fixtures.jpeg(seed: 77), to: setting.alpha, name: "flagged-secret.jpg")
                    .json()["sha256"] as? String)
            try await server.store.database.withConnection { db in
                try await db.raw("UPDATE images SET moderation = 0.99 WHERE sha256 = \(bind: sha256)").run()
            }
            // act, check: the viewer's history does not name it or link to it; the administrator's does
            let viewers = try await setting.viewer.get("/history?project_id=\(setting.alpha)").text
            #expect(!viewers.contains("flagged-secret.jpg") && !viewers.contains("/images/\(sha256)"))
            let admins = try await server.get("/history?project_id=\(setting.alpha)").text
            #expect(admins.contains("flagged-secret.jpg"))
        }
    }

    @Test("bad filter values are a 400 problem naming the parameter", arguments: TestDatabase.enabled)
    func refusals(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let cases: [(String, String)] = [
                ("state=bogus", "state"), ("state=", "state"), ("kind=", "kind"),
                ("kind=\(String(repeating: "k", count: 101))", "kind"), ("project_id=0", "project_id"),
                ("project_id=abc", "project_id"), ("project_id=99999999999999999999", "project_id"),
                ("project_id=", "project_id"), ("created_since=yesterday", "created_since"),
                ("created_since=2025-02-30", "created_since"), ("created_since=2025-01-31T09:30:00", "created_since"),
                ("created_since=1969-12-31", "created_since"), ("created_before=2025-13-01", "created_before"),
                ("created_since=2025-02-01&created_before=2025-01-01", "created_since"),
                ("created_since=2025-02-01&created_before=2025-02-01", "created_since"), ("cursor=x", "cursor"),
            ]
            for (query, field) in cases {
                let response = try await server.get("/api/v1/jobs?\(query)")
                #expect(response.status == .badRequest, "\(query): \(response.text)")
                #expect(response.headers[.contentType] == "application/problem+json", "\(query)")
                #expect(try response.json()["field"] as? String == field, "\(query): \(response.text)")
            }
            // The page says what is wrong too, and an empty form field there means "any".
            #expect(try await server.get("/jobs?state=bogus").status == .badRequest)
            #expect(try await server.get("/history?action=bogus").status == .badRequest)
            #expect(try await server.get("/jobs?state=&kind=&project_id=").status == .ok)
        }
    }

    @Test("events carry their project's name, for notifications", arguments: TestDatabase.enabled)
    func eventNames(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup
            let project = try await server.createProject("Marsh birds")
            // act
            let response = try await server.get("/api/v1/events?limit=100")
            // check
            let items = try response.decoded(as: TestPage<Components.Schemas.Event>.self).items
            let created = try #require(items.first { $0.action == "project.created" })
            #expect(created.projectId.map(Int64.init) == project)
            #expect(created.projectName == "Marsh birds")
        }
    }
}
