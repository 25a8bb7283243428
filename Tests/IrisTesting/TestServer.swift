public import Foundation
public import HTTPTypes
public import HummingbirdTesting
import IrisBlobs
public import IrisCore
public import IrisServer
public import IrisServices
public import IrisStore
public import NIOCore
import SQLKit

/// A running Iris server on a free loopback port, with its data folder and database,
/// as a test sees it.
public struct TestServer: Sendable {
    public let client: any TestClientProtocol
    public let settings: IrisSettings
    public let dependencies: IrisDependencies
    public let catalog: RouteCatalog
    /// An administrator's token with every scope: the identity requests use unless told otherwise.
    public let adminToken: String
    /// Headers sent with every request (by default, the admin token).
    public var identity: HTTPFields

    /// The same server, with requests made as someone else (or as nobody: `[:]`).
    public func acting(as headers: HTTPFields) -> TestServer {
        var copy = self
        copy.identity = headers
        return copy
    }

    public static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

    public var store: IrisStore { dependencies.store }
    public var dataDirectory: URL { settings.dataDirectory }

    /// Starts the real application (the same `buildApplication` as `iris serve`) on a
    /// fresh data folder and database, runs `body`, and stops it.
    public static func with(
        _ database: TestDatabase, limits: IngestLimits = IngestLimits(),
        configure: (inout IrisSettings) -> Void = { _ in },
        _ body: @Sendable (TestServer) async throws -> Void
    ) async throws {
        try await TemporaryFolder.with { folder in
            try await database.withFreshDatabase(in: folder) { location in
                var configured = IrisSettings(
                    port: 0, dataDirectory: folder.appendingPathComponent("data"), database: location, poolSize: 2,
                    limits: limits, bcryptCost: 10)
                // The real models, but no automatic analysis unless a test asks for it.
                configured.models = ModelSettings(
                    folder: TestModels.folder, runtimeLibrary: TestModels.runtimeLibrary, threads: 2, autoModels: [])
                // HummingbirdTesting's live client keeps one connection for a whole test, however
                // long it waits between requests; the timeouts are tested over raw sockets in
                // Tests/e2e/test_transport.py.
                configured.headerTimeout = 600
                configured.idleTimeout = 600
                configure(&configured)
                let settings = configured
                let dependencies = try await IrisDependencies.open(settings, logger: TestDatabase.logger)
                let catalog = RouteCatalog()
                let models = TestModels.registry(for: settings.models, logger: TestDatabase.logger)
                let app = try await buildApplication(
                    settings: settings, dependencies: dependencies, logger: TestDatabase.logger, catalog: catalog,
                    models: models)
                do {
                    let admin = try await Accounts(store: dependencies.store, bcryptCost: 10).create(
                        username: "admin", password: "admin-password", isAdmin: true)
                    let token = try await TestAccounts.token(
                        for: admin, scopes: [.read, .write, .admin], in: dependencies.store)
                    try await app.test(.live) { client in
                        try await body(
                            TestServer(
                                client: client, settings: settings, dependencies: dependencies, catalog: catalog,
                                adminToken: token, identity: Self.bearer(token)))
                    }
                } catch {
                    await dependencies.close()
                    throw error
                }
                await dependencies.close()
            }
        }
    }

    // MARK: - Requests

    /// Any request, with this server's identity headers added.
    public func request(
        _ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], body: ByteBuffer? = nil
    ) async throws -> TestResponse {
        var all = identity
        for field in headers { all[field.name] = field.value }
        return try await client.execute(uri: path, method: method, headers: all, body: body) { $0 }
    }

    public func get(_ path: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await request(.get, path, headers: headers)
    }

    public func delete(_ path: String) async throws -> TestResponse {
        try await request(.delete, path)
    }

    public func send(_ method: HTTPRequest.Method, _ path: String, json: [String: Any]) async throws -> TestResponse {
        let data = try JSONSerialization.data(withJSONObject: json)
        return try await request(
            method, path, headers: [.contentType: "application/json"], body: ByteBuffer(bytes: data))
    }

    public func post(_ path: String, body: ByteBuffer, contentType: String) async throws -> TestResponse {
        try await request(.post, path, headers: [.contentType: contentType], body: body)
    }

    /// Uploads one file (and labels) the way a browser's form would.
    public func upload(_ data: Data, to projectID: Int64, name: String = "photo.jpg", labels: [String] = [])
        async throws -> TestResponse
    {
        var form = MultipartForm()
        form.addFile("file", fileName: name, data: data)
        for label in labels { form.addField("label", label) }
        return try await post("/api/v1/projects/\(projectID)/images", body: form.body, contentType: form.contentType)
    }

    /// Creates a project through the API and returns its id.
    public func createProject(_ name: String, labelSet: [String]? = nil) async throws -> Int64 {
        var json: [String: Any] = ["name": name]
        if let labelSet { json["label_set"] = labelSet }
        let response = try await send(.post, "/api/v1/projects", json: json)
        guard response.status == .created, let id = try response.json()["id"] as? Int else {
            throw Problem.unavailable("creating project \(name) answered \(response.status): \(response.text)")
        }
        return Int64(id)
    }

    // MARK: - Background jobs

    /// Waits until no job is queued or running (thumbnails made, deliveries sent, ...).
    public func settle(timeout: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let busy = try await store.jobs.depth().filter { $0.state == .queued || $0.state == .running }.reduce(0) {
                $0 + $1.count
            }
            if busy == 0 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Problem.unavailable(
            "jobs were still queued or running after \(timeout) s: \(try await store.jobs.depth())")
    }

    /// Polls the job until it is in `states`, and answers it.
    public func waitForJob(_ id: Int64, in states: Set<JobState>, timeout: Double = 30) async throws -> Job {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let job = try await store.jobs.find(id: id), states.contains(job.state) { return job }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Problem.unavailable(
            "job \(id) did not reach \(states.map(\.rawValue)) in \(timeout) s: \(String(describing: try await store.jobs.find(id: id)))"
        )
    }

    // MARK: - What is on disk and in the database

    /// Every file under the data folder's blob store.
    public func blobFiles() -> [String] {
        Self.files(under: settings.blobsDirectory)
    }

    /// Every file in scratch space (should be none between requests).
    public func scratchFiles() -> [String] {
        Self.files(under: settings.scratchDirectory)
    }

    public func rowCount(_ table: String) async throws -> Int {
        try await store.database.withConnection { db in
            let row = try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()
            return Int(try row?.decode(column: "n", as: Int64.self) ?? -1)
        }
    }

    /// Every table of the database (SQLite's own and FTS shadow tables left out).
    public func tableNames() async throws -> [String] {
        let query: SQLQueryString =
            store.database.dialect == .sqlite
            ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            : "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        return try await store.database.withConnection { db in
            try await db.raw(query).all().map { try $0.decode(column: "name", as: String.self) }
        }
    }

    /// Every table's row count, in one statement: a cheap fingerprint of what a request changed.
    /// Left out is what moves on its own clock, not because of a request: the attempt history
    /// of jobs already running (`job_runs`), the webhook dispatcher's place (`cursors`) and the
    /// scheduler's hourly jobs.
    public func rowCounts() async throws -> [String: Int] {
        let tables = try await tableNames().filter { !["job_runs", "cursors"].contains($0) }
        let union: String = tables.map { table -> String in
            let own = table == "jobs" ? " WHERE idempotency_key IS NULL OR idempotency_key NOT LIKE 'periodic:%'" : ""
            return "SELECT '\(table)' AS name, COUNT(*) AS n FROM \(table)\(own)"
        }.joined(separator: " UNION ALL ")
        return try await store.database.withConnection { db in
            var counts: [String: Int] = [:]
            for row in try await db.raw(SQLQueryString(union)).all() {
                counts[try row.decode(column: "name", as: String.self)] = Int(
                    try row.decode(column: "n", as: Int64.self))
            }
            return counts
        }
    }

    static func files(under root: URL) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var files: [String] = []
        while let path = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(
                atPath: root.appendingPathComponent(path).path, isDirectory: &isDirectory), !isDirectory.boolValue
            {
                files.append(path)
            }
        }
        return files.sorted()
    }
}

extension TestResponse {
    public var text: String { String(buffer: body) }

    /// The body as a JSON object (empty when it is not one).
    public func json() throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:]
    }

    public var data: Data { Data(body.readableBytesView) }

    /// The body decoded as `type`: the generated client's types (`Components.Schemas`), or a
    /// `TestPage` of them, so a test reads an answer as an app would. Dates as the server writes them.
    public func decoded<T: Decodable>(as type: T.Type) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = try? Date(text, strategy: .iso8601) { return date }
            return try Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
        }
        return try decoder.decode(type, from: data)
    }
}

/// A list's answer (`items` and the next page's cursor), for `TestResponse.decoded(as:)`.
public struct TestPage<Item: Decodable>: Decodable {
    public var items: [Item]
    public var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case items
        case nextCursor = "next_cursor"
    }
}
