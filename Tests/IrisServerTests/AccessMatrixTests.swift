import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisBlobs
import IrisCore
import IrisImaging
import IrisServer
import IrisServices
import IrisStore
import IrisTesting
import NIOCore
import Testing

/// Walks every route the router has (from its catalog, so new routes are covered by
/// construction) for every kind of caller, and checks who gets in.
@Suite("Authorization matrix")
struct AccessMatrixTests {
    /// What each route is expected to require. A route missing here fails the test:
    /// adding a route means deciding, here too, who may call it.
    static let expected: [String: Access] = [
        "GET /healthz": .open,
        "GET /readyz": .open,
        "GET /metrics": .admin,
        "GET /api/v1/openapi.yaml": .open,
        "GET /sw.js": .open,
        "GET /manifest.webmanifest": .open,
        "POST /api/v1/projects": .signedIn,
        "GET /api/v1/projects": .signedIn,
        "GET /api/v1/projects/{id}": .project(.viewer),
        "PATCH /api/v1/projects/{id}": .project(.owner),
        "DELETE /api/v1/projects/{id}": .project(.owner),
        "POST /api/v1/projects/{id}/images": .project(.contributor),
        "POST /api/v1/projects/{id}/images/check": .project(.contributor),
        "POST /api/v1/projects/{id}/exports": .project(.editor),
        "GET /api/v1/projects/{id}/exports/{job}": .project(.editor),
        "GET /api/v1/projects/{id}/images": .project(.viewer),
        "DELETE /api/v1/projects/{id}/images/{sha256}": .project(.editor),
        "GET /api/v1/images/{sha256}": .image,
        "GET /api/v1/images/{sha256}/original": .image,
        "GET /api/v1/images/{sha256}/thumbnail": .image,
        "GET /api/v1/images/{sha256}/similar": .image,
        "GET /api/v1/search": .signedIn,
        "GET /search": .signedIn,
        "GET /api/v1/projects/{id}/duplicates": .project(.editor),
        "POST /api/v1/projects/{id}/duplicates/merge": .project(.editor),
        "GET /api/v1/projects/{id}/images/{sha256}/labels": .project(.viewer),
        "PUT /api/v1/projects/{id}/images/{sha256}/labels": .project(.editor),
        "POST /api/v1/projects/{id}/labels": .project(.editor),
        "POST /api/v1/projects/{id}/labels/undo": .project(.editor),
        "POST /api/v1/projects/{id}/labels/rename": .project(.owner),
        "POST /api/v1/me/password": .signedIn,
        "GET /api/v1/projects/{id}/label-issues": .project(.editor),
        "GET /api/v1/projects/{id}/map": .project(.editor),
        "GET /projects/{id}/check": .project(.editor),
        "GET /api/v1/projects/{id}/review": .project(.editor),
        "POST /api/v1/projects/{id}/review": .project(.editor),
        "GET /projects/{id}/review": .project(.editor),
        "GET /projects/{id}/duplicates": .project(.editor),
        "POST /api/v1/projects/{id}/imports": .project(.editor),
        "GET /login": .open,
        "POST /login": .open,
        "POST /logout": .signedIn,
        "GET /api/v1/me": .signedIn,
        "POST /api/v1/tokens": .signedIn,
        "GET /api/v1/tokens": .signedIn,
        "DELETE /api/v1/tokens/{tokenID}": .signedIn,
        "GET /api/v1/users": .admin,
        "POST /api/v1/users": .admin,
        "PATCH /api/v1/users/{userID}": .admin,
        "GET /api/v1/projects/{id}/members": .project(.viewer),
        "PUT /api/v1/projects/{id}/members/{username}": .project(.owner),
        "DELETE /api/v1/projects/{id}/members/{username}": .project(.owner),
        "GET /api/v1/events": .signedIn,
        "GET /history": .signedIn,
        "GET /account/tokens": .signedIn,
        "GET /projects/{id}/members": .project(.viewer),
        "GET /admin": .admin,
        "GET /": .signedIn,
        "GET /projects/{id}": .project(.viewer),
        "GET /static/{file}": .open,
        "POST /api/v1/projects/{id}/links": .project(.owner),
        "GET /api/v1/projects/{id}/links": .project(.owner),
        "DELETE /api/v1/projects/{id}/links/{linkID}": .project(.owner),
        "GET /api/v1/links/{code}": .link,
        "POST /api/v1/links/{code}/images": .link,
        "POST /api/v1/links/{code}/images/check": .link,
        "GET /l/{code}": .link,
        "GET /api/v1/jobs": .signedIn,
        "POST /api/v1/jobs": .admin,
        "GET /api/v1/jobs/{jobID}": .job(.viewer),
        "POST /api/v1/jobs/{jobID}/cancel": .job(.editor),
        "POST /api/v1/jobs/{jobID}/retry": .job(.editor),
        "GET /api/v1/queues": .admin,
        "GET /jobs": .signedIn,
        "POST /api/v1/projects/{id}/webhooks": .project(.owner),
        "GET /api/v1/projects/{id}/webhooks": .project(.owner),
        "DELETE /api/v1/projects/{id}/webhooks/{webhookID}": .project(.owner),
        "GET /api/v1/projects/{id}/webhooks/{webhookID}/deliveries": .project(.owner),
        "GET /images/{sha256}": .image,
        "GET /api/v1/models": .signedIn,
        "POST /api/v1/models": .admin,
        "DELETE /api/v1/models/{name}": .admin,
        "POST /api/v1/analyses": .signedIn,
        "GET /api/v1/analyses/{sha256}": .image,
        "GET /api/v1/analyses/{sha256}/embeddings/{model}": .image,
        "POST /api/v1/images/{sha256}/repairs": .imageRole(.contributor),
        "GET /api/v1/repairs/{repairID}": .repair(.viewer),
        "GET /api/v1/repairs/{repairID}/mask": .repair(.viewer),
        "POST /api/v1/repairs/{repairID}/discard": .repair(.contributor),
        "GET /api/v1/projects/{id}/repairs": .project(.viewer),
        "GET /api/v1/projects/{id}/learner": .project(.viewer),
        "PATCH /api/v1/projects/{id}/learner": .project(.editor),
        "POST /api/v1/projects/{id}/learner/classes": .project(.editor),
        "DELETE /api/v1/projects/{id}/learner/classes/{name}": .project(.editor),
        "POST /api/v1/projects/{id}/learner/classify": .project(.viewer),
        "GET /api/v1/projects/{id}/label-studio/health": .project(.viewer),
        "POST /api/v1/projects/{id}/label-studio/setup": .project(.viewer),
        "POST /api/v1/projects/{id}/label-studio/predict": .project(.viewer),
        "POST /api/v1/projects/{id}/label-studio/webhook": .project(.editor),
        "POST /api/v1/projects/{id}/learner/consolidate": .project(.editor),
        "POST /api/v1/projects/{id}/learner/reset": .admin,
        "POST /api/v1/projects/{id}/classifiers": .project(.editor),
        "GET /api/v1/projects/{id}/classifiers": .project(.viewer),
        "POST /api/v1/projects/{id}/classifiers/{version}/activate": .project(.editor),
        "POST /api/v1/projects/{id}/evaluations": .project(.editor),
        "GET /api/v1/projects/{id}/evaluations": .project(.viewer),
        "GET /api/v1/projects/{id}/evaluations/{evaluationID}": .project(.viewer),
        "GET /projects/{id}/model": .project(.viewer),
        "GET /projects/{id}/repairs": .project(.viewer),
        // The Open Inference Protocol: a project's model also needs its viewer role (checked by
        // the handler, since the project is in the model's name; InferenceServerTests).
        "GET /v2": .open,
        "GET /v2/health/live": .open,
        "GET /v2/health/ready": .open,
        "GET /v2/models/{name}": .signedIn,
        "GET /v2/models/{name}/ready": .signedIn,
        "POST /v2/models/{name}/infer": .signedIn,
    ]

    /// The kinds of caller the matrix tries.
    enum Identity: String, CaseIterable {
        case anonymous
        case linkHolder = "link holder"
        case viewer, contributor, editor, owner, outsider, admin
        case readOnlyOwner = "read-only token of an owner"
        case otherProjectToken = "owner's token limited to another project"
        case adminPlainToken = "admin's read+write token without the admin scope"
        case adminOtherProjectToken = "admin-scoped token limited to another project"
        case expiredToken = "expired token"
        case revokedToken = "revoked token"
        case malformedToken = "malformed token"
    }

    struct Cast {
        var headers: [Identity: HTTPFields] = [:]
        var users: [String: User] = [:]
        var otherProject: Int64 = 0
    }

    /// One user per role (plus an outsider), each with a read+write token; the special tokens.
    func cast(_ server: TestServer) async throws -> Cast {
        let accounts = Accounts(store: server.store, bcryptCost: 10)
        var cast = Cast()
        for name in ["viewer", "contributor", "editor", "owner", "outsider"] {
            cast.users[name] = try await accounts.create(username: name, password: "password-\(name)", isAdmin: false)
        }
        cast.otherProject = try await server.createProject("elsewhere")
        try await server.store.accounts.setRole(projectID: cast.otherProject, userID: cast.users["owner"]!.id, .owner)
        for role in ["viewer", "contributor", "editor", "owner", "outsider"] {
            let token = try await TestAccounts.token(for: cast.users[role]!, scopes: [.read, .write], in: server.store)
            cast.headers[Identity(rawValue: role)!] = TestServer.bearer(token)
        }
        let owner = cast.users["owner"]!
        cast.headers[.anonymous] = [:]
        cast.headers[.linkHolder] = [:]  // a link holder's only credential is the code in the link's own routes
        cast.headers[.admin] = TestServer.bearer(server.adminToken)
        cast.headers[.readOnlyOwner] = TestServer.bearer(
            try await TestAccounts.token(for: owner, scopes: [.read], in: server.store))
        cast.headers[.otherProjectToken] = TestServer.bearer(
            try await TestAccounts.token(
                for: owner, scopes: [.read, .write], projectID: cast.otherProject, in: server.store))
        cast.headers[.expiredToken] = TestServer.bearer(
            try await TestAccounts.token(
                for: owner, scopes: [.read, .write], expiresAt: Date().addingTimeInterval(-60), in: server.store))
        let revoked = try await TestAccounts.token(for: owner, scopes: [.read, .write], in: server.store)
        let revokedID = try await server.store.accounts.tokens(userID: owner.id).last!.id
        _ = try await server.store.accounts.revokeToken(id: revokedID, userID: nil)
        cast.headers[.revokedToken] = TestServer.bearer(revoked)
        cast.headers[.malformedToken] = [.authorization: "Bearer not-a-token"]
        // An administrator's powers need the admin scope, and the instance's need no project limit.
        let (admin, _) = try #require(try await server.store.accounts.credentials(username: "admin"))
        cast.users["admin"] = admin
        cast.headers[.adminPlainToken] = TestServer.bearer(
            try await TestAccounts.token(for: admin, scopes: [.read, .write], in: server.store))
        cast.headers[.adminOtherProjectToken] = TestServer.bearer(
            try await TestAccounts.token(
                for: admin, scopes: [.read, .write, .admin], projectID: cast.otherProject, in: server.store))
        return cast
    }

    /// A project where each role user holds their role, with one image in it.
    func fixture(
        _ server: TestServer, _ cast: Cast, seed: Int
    ) async throws -> (
        project: Int64, sha256: String, code: String, job: Int64, webhook: Int64, evaluation: Int64, repair: Int64
    ) {
        let project = try await server.createProject("fixture \(seed)")
        for role in Role.allCases {
            try await server.store.accounts.setRole(projectID: project, userID: cast.users[role.rawValue]!.id, role)
        }
        // The admin made it, but is no member: what an admin may do here comes from the admin scope alone.
        try await server.store.accounts.setRole(projectID: project, userID: cast.users["admin"]!.id, nil)
        let upload = try await server.upload(try Fixtures.jpeg(width: 32, height: 32, seed: seed), to: project)
        let link = try await server.send(.post, "/api/v1/projects/\(project)/links", json: ["name": "crowd"])
        // A job of the project on a queue no worker serves, so it stays put: an export, so the
        // export's download route finds it too (and answers 409, not ready, to whoever may see it).
        let job = try await server.store.jobs.enqueue(
            JobRequest(
                kind: "project.export", payload: #"{"project_id": \#(project), "request": {"format": "csv"}}"#,
                queue: "unserved", projectID: project)
        ).job
        // Stored directly: creating one through the API resolves its host, and tests have no DNS.
        let hook = try await server.store.webhooks.create(
            projectID: project, url: "https://example.org/hook", secret: "matrix-secret-0123456789",
            eventTypes: ["webhook.deleted"], createdBy: nil)
        let sha256 = try #require(try upload.json()["sha256"] as? String)
        // An embedding stored directly, so the embedding route has something to show whoever may see it.
        _ = try await server.store.analyses.save(
            Analysis(sha256: sha256, model: "matrix-model", result: "{}", createdAt: Date()), labels: [],
            embedding: [1, 0], moderation: nil)
        // A kept evaluation run, so its page has something to show.
        let evaluation = try await server.store.learning.addEvaluation(
            EvaluationRecord(
                projectID: project, target: "learner", version: nil, split: "held-out", report: "{}", jobID: nil,
                createdAt: Date()))
        // A finished repair of the image, its mask stored, so its routes have something to show.
        let mask = try SyntheticImage.png(width: 32, height: 32, bands: 1, values: .init(repeating: 255, count: 1024))
        try await server.dependencies.blobs.put(.mask("matrix-mask-\(seed)"), data: mask)
        let repair = try await server.store.repairs.add(
            RepairRecord(
                projectID: project, sourceSHA256: sha256, maskSHA256: "matrix-mask-\(seed)", method: "exemplar",
                domain: false, seed: 1, requestedBy: "owner", createdAt: Date()))
        try await server.store.repairs.finish(
            id: repair.id, state: .succeeded, result: sha256, error: nil, timings: nil)
        return (
            project, sha256, try #require(try link.json()["code"] as? String), job.id, hook.id, evaluation.id,
            repair.id
        )
    }

    /// What the identity should meet on a route of this access: nil when allowed.
    func denial(_ access: Access, _ identity: Identity, route: RouteCatalog.Route) -> HTTPResponse.Status? {
        switch identity {
        case .expiredToken, .revokedToken, .malformedToken:
            return .unauthorized  // bad credentials are refused everywhere, even on open routes
        case .anonymous, .linkHolder:
            if access == .open || access == .link { return nil }
            let webPage = !route.pattern.hasPrefix("/api/") && !route.pattern.hasPrefix("/v2") && route.method == .get
            return webPage ? .seeOther : .unauthorized
        case .admin:
            return nil
        default:
            break
        }
        if access == .open || access == .link { return nil }
        let safe = route.method == .get
        if identity == .readOnlyOwner && !safe { return .forbidden }
        if access == .admin { return .forbidden }
        // Tokens limited to another project see nothing of this one, admin scope or not.
        if identity == .otherProjectToken || identity == .adminOtherProjectToken {
            switch access {
            case .project, .image, .imageRole, .job, .repair: return .notFound
            default: return route.pattern == "/api/v1/projects" && route.method == .post ? .forbidden : nil
            }
        }
        let role: Role? =
            switch identity {
            case .viewer: .viewer
            case .contributor: .contributor
            case .editor: .editor
            case .owner, .readOnlyOwner: .owner
            // The admin's token without the admin scope is the admin as a member of nothing here.
            case .outsider, .adminPlainToken: nil
            default: nil
            }
        switch access {
        case .project(let needed), .job(let needed), .imageRole(let needed), .repair(let needed):
            guard let role else { return .notFound }
            return role >= needed ? nil : .forbidden
        case .image:
            return role == nil ? .notFound : nil
        default:
            return nil
        }
    }

    @Test("every route × every kind of caller gets the status its access rule says", arguments: TestDatabase.enabled)
    func matrix(database: TestDatabase) async throws {
        // Each unsafe case gets a fresh project with an upload (about 600 of them a run): the
        // per-caller upload limit is not what this test is about.
        try await TestServer.with(database, configure: { $0.uploadRateLimit = 1_000_000 }) { server in
            // setup
            let cast = try await cast(server)
            let shared = try await fixture(server, cast, seed: 1)
            let routes = server.catalog.routes
            // Every route is in the table, and declares what the table says.
            for route in routes {
                #expect(
                    Self.expected[route.description] == route.access,
                    "\(route) declares \(route.access); the matrix expects \(Self.expected[route.description].map { "\($0)" } ?? "nothing")"
                )
            }
            #expect(Set(routes.map(\.description)) == Set(Self.expected.keys))

            var checked = 0
            var seed = 100
            for route in routes {
                let access = route.access
                for identity in Identity.allCases {
                    // act: unsafe requests get a fresh project, so no caller's change disturbs the next case
                    seed += 1
                    let target = route.method == .get ? shared : try await fixture(server, cast, seed: seed)
                    let values: [(String, String)] = [
                        ("{id}", String(target.project)), ("{sha256}", target.sha256), ("{tokenID}", "999999"),
                        ("{userID}", "999999"), ("{username}", "outsider"), ("{file}", "app.css"),
                        ("{code}", target.code), ("{linkID}", "999999"), ("{job}", String(target.job)),
                        ("{jobID}", String(target.job)), ("{webhookID}", String(target.webhook)),
                        ("{model}", "matrix-model"), ("{evaluationID}", String(target.evaluation)),
                        ("{repairID}", String(target.repair)), ("{version}", "999999"), ("{name}", "no-such-class"),
                    ]
                    var path = route.pattern
                    for (placeholder, value) in values {
                        path = path.replacingOccurrences(of: placeholder, with: value)
                    }
                    let body: ByteBuffer? = route.method == .get ? nil : ByteBuffer(string: "{}")
                    let headers: HTTPFields = route.method == .get ? [:] : [.contentType: "application/json"]
                    let denied = denial(access, identity, route: route)
                    // A refused write must change nothing: every table's rows are counted around it.
                    let countsBefore = denied != nil && route.method != .get ? try await server.rowCounts() : nil
                    let response = try await server.acting(as: cast.headers[identity]!).request(
                        route.method, path, headers: headers, body: body)
                    // check
                    let place =
                        "\(route) as \(identity.rawValue) → \(response.status.code) \(response.text.prefix(160))"
                    if let denied {
                        #expect(response.status == denied, "\(place); expected \(denied.code)")
                        if let countsBefore {
                            let countsAfter = try await server.rowCounts()
                            #expect(
                                countsAfter == countsBefore,
                                "\(place): a refused write changed \(countsAfter.filter { countsBefore[$0.key] != $0.value }.keys.sorted())"
                            )
                        }
                        if denied != .seeOther {
                            // The inference protocol's clients read its own error shape.
                            let shape = route.pattern.hasPrefix("/v2") ? "application/json" : "application/problem+json"
                            #expect(response.headers[.contentType] == shape, "\(place)")
                        }
                    } else {
                        #expect(
                            ![.unauthorized, .forbidden].contains(response.status)
                                || (route.pattern == "/login" && response.status == .forbidden),
                            "\(place); expected to be let in")
                        #expect(response.status.code < 500, "\(place)")
                        if case .project = access, route.method == .get {
                            #expect(response.status != .notFound, "\(place)")
                        }
                        if access == .image { #expect(response.status != .notFound, "\(place)") }
                        if case .job = access { #expect(response.status != .notFound, "\(place)") }
                        if case .repair = access, route.method == .get {
                            #expect(response.status != .notFound, "\(place)")
                        }
                    }
                    checked += 1
                }
            }
            #expect(checked == routes.count * Identity.allCases.count)
            print(
                "authorization matrix: \(routes.count) routes × \(Identity.allCases.count) identities = \(checked) requests"
            )
        }
    }
}
