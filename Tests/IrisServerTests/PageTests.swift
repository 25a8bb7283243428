import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisServer
import IrisTesting
import Testing

/// What a browser gets from the pages: headers that keep them out of other sites' frames,
/// form-encoded query strings read as forms send them, and errors as pages in Iris's layout.
@Suite("Pages")
struct PageTests {
    static let html: HTTPFields = [.accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"]

    @Test("no other site may frame a page: CSP frame-ancestors 'none' and X-Frame-Options DENY")
    func pagesRefuseFraming() async throws {
        try await TestServer.with(.sqlite) { server in
            // setup: a project, so its page exists
            let project = try await server.createProject("Framed")
            // act: the sign-in page (anonymous) and a signed-in page
            let login = try await server.acting(as: [:]).get("/login", headers: Self.html)
            let page = try await server.get("/projects/\(project)", headers: Self.html)
            // check
            for response in [login, page] {
                #expect(response.status == .ok)
                let policy = try #require(response.headers[HTTPField.Name("Content-Security-Policy")!])
                #expect(policy.contains("frame-ancestors 'none'"), "\(policy)")
                #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            }
        }
    }

    @Test(
        "a query string is read as a form sends it: + is a space, %2B a plus",
        arguments: TestDatabase.enabled)
    func formEncodedQueries(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: a photo labelled with two words
            let project = try await server.createProject("Woods")
            let upload = try await server.upload(try Fixtures.jpeg(seed: 61), to: project, labels: ["oak tree"])
            #expect(upload.status == .created, "\(upload.text)")
            // act: the gallery's filter as a form sends it, and as a script encodes it
            let plus = try await server.get("/api/v1/projects/\(project)/images?label=oak+tree")
            let percent = try await server.get("/api/v1/projects/\(project)/images?label=oak%20tree")
            let literal = try await server.get("/api/v1/projects/\(project)/images?label=oak%2Btree")
            // check: both spellings of the space find it; a real plus is a different label
            #expect((try plus.json()["items"] as? [Any])?.count == 1, "\(plus.text)")
            #expect((try percent.json()["items"] as? [Any])?.count == 1, "\(percent.text)")
            #expect((try literal.json()["items"] as? [Any])?.count == 0, "\(literal.text)")
            // check: the search page shows the words typed, not "oak+tree"
            let search = try await server.get("/search?q=oak+tree&project_id=\(project)", headers: Self.html)
            #expect(search.status == .ok)
            #expect(search.text.contains("value=\"oak tree\""), "\(search.text)")
            #expect(!search.text.contains("oak+tree"))
        }
    }

    @Test(
        "a browser opening a page that fails gets a page saying what happened and what to do; API clients get problem+json",
        arguments: TestDatabase.enabled)
    func errorsArePagesForBrowsers(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: a contributor link, revoked
            let project = try await server.createProject("Street trees")
            let created = try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "walkers"])
            let code = try #require(try created.json()["code"] as? String)
            let link = try #require(try created.json()["link"] as? [String: Any])
            let id = try #require(link["id"] as? Int)
            #expect(try await server.delete("/api/v1/projects/\(project)/links/\(id)").status == .noContent)
            let phone = server.acting(as: [:])

            // act + check: the phone's browser opens the revoked link
            let page = try await phone.get("/l/\(code)", headers: Self.html)
            #expect(page.status == .forbidden)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(page.text.contains("<header class=\"bar\">"))  // Iris's layout
            #expect(page.text.contains("This link is no longer active"))
            #expect(page.text.contains("This upload link was revoked."))
            #expect(page.text.contains("Ask the project&#39;s owner for a new one."), "\(page.text)")
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")

            // act + check: a client that does not ask for HTML keeps problem+json
            let json = try await phone.get("/l/\(code)")
            #expect(json.status == .forbidden)
            #expect(json.headers[.contentType] == "application/problem+json")
            #expect(try json.json()["type"] as? String == "/problems/link-refused")

            // act + check: an unknown project, as a page and through the API
            let missing = try await server.get("/projects/999999", headers: Self.html)
            #expect(missing.status == .notFound)
            #expect(missing.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(missing.text.contains("Nothing here") && missing.text.contains("href=\"/\""))
            let api = try await server.get("/api/v1/projects/999999", headers: Self.html)
            #expect(api.status == .notFound)
            #expect(api.headers[.contentType] == "application/problem+json")
            #expect(try api.json()["status"] as? Int == 404)
        }
    }
}
