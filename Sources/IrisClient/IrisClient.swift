public import Foundation
public import HTTPTypes
public import OpenAPIRuntime
import OpenAPIURLSession

#if canImport(FoundationNetworking)
    public import FoundationNetworking
#endif

/// An Iris server, for apps: the calls generated from the server's OpenAPI document (`api`)
/// and the conveniences an app needs most (projects, a hash check, an upload with labels,
/// waiting for an analysis). Signs every request with an API token (`iris token create`, or
/// the web page Account → Tokens).
public struct IrisClient: Sendable {
    /// The server's address, e.g. `http://photos.example.org:8080`.
    public let server: URL
    /// Every operation of the API, as swift-openapi-generator made it from `openapi.yaml`.
    public let api: Client

    public init(server: URL, token: String?, session: URLSession = .shared) throws {
        self.server = server
        api = Client(
            serverURL: server, configuration: Configuration(dateTranscoder: FlexibleDates()),
            transport: URLSessionTransport(configuration: .init(session: session)),
            middlewares: [Signing(token: token), Problems()])
    }

    /// Every project the token may see, through every page.
    public func projects() async throws -> [Components.Schemas.Project] {
        var found: [Components.Schemas.Project] = []
        var cursor: String?
        repeat {
            let page = try await call {
                try await api.listProjects(query: .init(cursor: cursor, limit: 100)).ok.body.json
            }
            found += page.items
            cursor = page.nextCursor
        } while cursor != nil && found.count < 100_000
        return found
    }

    /// Which of `sha256s` the project holds already (asked 1,000 at a time).
    public func present(_ sha256s: [String], in project: Int) async throws -> Set<String> {
        var present: Set<String> = []
        for start in stride(from: 0, to: sha256s.count, by: 1000) {
            let slice = Array(sha256s[start..<min(start + 1000, sha256s.count)])
            let answer = try await call {
                try await api.checkImages(path: .init(id: project), body: .json(.init(sha256: slice))).ok.body.json
            }
            present.formUnion(answer.present)
        }
        return present
    }

    /// What an upload did.
    public struct Uploaded: Sendable, Equatable {
        public var sha256: String
        /// The project had the image already (the labels were still added).
        public var alreadyInProject: Bool
    }

    /// Uploads one file into a project with human labels (each must be in the project's label
    /// set, when it has one).
    public func upload(_ file: URL, labels: [String] = [], to project: Int) async throws -> Uploaded {
        let data = try Data(contentsOf: file)
        return try await upload(data, name: file.lastPathComponent, labels: labels, to: project)
    }

    public func upload(_ data: Data, name: String, labels: [String] = [], to project: Int) async throws -> Uploaded {
        typealias Part = Operations.UploadImage.Input.Body.MultipartFormPayload
        var parts: [Part] = [.file(.init(payload: .init(body: HTTPBody(data)), filename: name))]
        for label in labels { parts.append(.label(.init(payload: .init(body: HTTPBody(label))))) }
        let output = try await call {
            try await api.uploadImage(path: .init(id: project), body: .multipartForm(MultipartBody(parts)))
        }
        switch output {
        case .created(let created): return Uploaded(sha256: try created.body.json.sha256, alreadyInProject: false)
        case .ok(let ok): return Uploaded(sha256: try ok.body.json.sha256, alreadyInProject: true)
        default: throw IrisClientError.unexpected("the server answered an upload with \(output)")
        }
    }

    /// A photo's human labels in a project, their version and history.
    public typealias ImageLabels = Components.Schemas.ImageLabels

    /// Replaces a photo's human labels in a project. With `ifVersion` (the `version` a
    /// previous answer gave), a change someone else made meanwhile is refused with a 412
    /// (`IrisClientError.problem(status: 412, …)`) instead of being overwritten. The version goes
    /// unquoted: the OpenAPI runtime percent-encodes quotes in header values.
    public func setLabels(_ labels: [String], on sha256: String, in project: Int, ifVersion: Int? = nil) async throws
        -> ImageLabels
    {
        try await call {
            try await api.setLabels(
                path: .init(id: project, sha256: sha256), headers: .init(ifMatch: ifVersion.map { String($0) }),
                body: .json(.init(labels: labels))
            ).ok.body.json
        }
    }

    /// Adds and removes human labels on many photos of a project at once; answers how many
    /// changed and the operation to pass to `undoLabels`.
    public func changeLabels(_ sha256s: [String], in project: Int, add: [String] = [], remove: [String] = [])
        async throws -> Components.Schemas.LabelChange
    {
        try await call {
            try await api.changeLabels(
                path: .init(id: project), body: .json(.init(images: sha256s, add: add, remove: remove))
            ).ok.body.json
        }
    }

    /// Reverses a label change, if nobody changed those labels since.
    public func undoLabels(_ operation: Int, in project: Int) async throws -> Components.Schemas.LabelChange {
        try await call {
            try await api.undoLabels(path: .init(id: project), body: .json(.init(operation: operation))).ok.body.json
        }
    }

    /// The photos of a project waiting for review (editors), each with up to three suggested
    /// labels; `suspect` first lists those whose label the project's learner doubts most.
    public func review(_ project: Int, suspectFirst: Bool = true, limit: Int = 50) async throws
        -> Components.Schemas.ReviewQueue
    {
        try await call {
            try await api.reviewQueue(
                path: .init(id: project), query: .init(order: suspectFirst ? .suspect : .newest, limit: limit)
            ).ok.body.json
        }
    }

    /// A decision on a photo waiting for review: accept (with the labels it should have, or
    /// as labelled) or reject.
    public enum Decision: Sendable, Equatable {
        case accept(String, labels: [String]? = nil)
        case reject(String)
    }

    /// Records decisions in one transaction; answers how many were decided.
    @discardableResult
    public func decide(_ decisions: [Decision], in project: Int) async throws -> Int {
        typealias Item = Operations.DecideReview.Input.Body.JsonPayload.DecisionsPayloadPayload
        let items = decisions.map { decision -> Item in
            switch decision {
            case .accept(let sha256, let labels): Item(sha256: sha256, action: .accept, labels: labels)
            case .reject(let sha256): Item(sha256: sha256, action: .reject)
            }
        }
        return try await call {
            try await api.decideReview(path: .init(id: project), body: .json(.init(decisions: items))).ok.body.json
                .decided
        }
    }

    /// What the server said of each file sent for analysis: its sha256 and a job per model,
    /// or why it was refused.
    public typealias AnalysesCreated = Components.Schemas.AnalysesCreated
    /// Every model's analysis of one image, by model name.
    public typealias Analyses = Operations.ShowAnalyses.Output.Ok.Body.JsonPayload

    /// Sends files to be stored in `project` (as uploads) and analysed by each of `models`:
    /// one job per (image, model). Unknown model names refuse the whole request.
    public func analyse(_ files: [(name: String, data: Data)], models: [String], in project: Int) async throws
        -> AnalysesCreated
    {
        typealias Part = Operations.CreateAnalyses.Input.Body.MultipartFormPayload
        var parts: [Part] = [
            .models(.init(payload: .init(body: HTTPBody(models.joined(separator: ","))))),
            .projectId(.init(payload: .init(body: HTTPBody(String(project))))),
        ]
        for file in files { parts.append(.file(.init(payload: .init(body: HTTPBody(file.data)), filename: file.name))) }
        let output = try await call { try await api.createAnalyses(body: .multipartForm(MultipartBody(parts))) }
        switch output {
        case .accepted(let accepted): return try accepted.body.json
        case .code207(let some): return try some.body.json
        default: throw IrisClientError.unexpected("the server answered an analysis request with \(output)")
        }
    }

    /// Every model's analysis of an image as it stands now.
    public func analyses(of sha256: String) async throws -> Analyses {
        try await call { try await api.showAnalyses(path: .init(sha256: sha256)).ok.body.json }
    }

    /// Waits until `model`'s analysis of the image has ended (succeeded, failed, dead or
    /// cancelled), asking every `interval` seconds for at most `timeout` seconds.
    public func analysis(of sha256: String, by model: String, interval: Double = 0.5, timeout: Double = 120)
        async throws -> Components.Schemas.ModelAnalysis
    {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let answer = try await analyses(of: sha256)
            if let analysis = answer.models.additionalProperties[model],
                ![.queued, .running].contains(analysis.state)
            {
                return analysis
            }
            guard Date() < deadline else {
                throw IrisClientError.unexpected(
                    "\(model)'s analysis of \(sha256.prefix(12)) did not end in \(timeout) s")
            }
            try await Task.sleep(nanoseconds: UInt64(interval * 1e9))
        }
    }

    /// Runs a generated call with the middleware's errors brought out of the runtime's wrapper.
    func call<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ClientError {
            if let known = error.underlyingError as? IrisClientError { throw known }
            if error.underlyingError is URLError || error.underlyingError is POSIXError {
                throw IrisClientError.transport(error.underlyingError.localizedDescription)
            }
            throw IrisClientError.unexpected(
                "the server's answer to \(error.operationID) was not understood: \(error.underlyingError)")
        }
    }
}

/// What went wrong talking to Iris.
public enum IrisClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server refused the request: its problem document's status, detail and field.
    case problem(status: Int, detail: String, field: String?)
    /// The server asked to slow down (429, or 503 while busy) for this many seconds (its
    /// `Retry-After`).
    case rateLimited(retryAfter: Double, detail: String)
    /// The server could not be reached, or the connection broke.
    case transport(String)
    /// The server answered in a way this client does not know.
    case unexpected(String)

    /// Worth trying again later: the network, a server that is down or busy, a rate limit.
    public var isTransient: Bool {
        switch self {
        case .transport, .rateLimited: true
        case .problem(let status, _, _): status == 408 || status == 429 || status >= 500
        case .unexpected: false
        }
    }

    public var description: String {
        switch self {
        case .problem(let status, let detail, let field):
            "\(detail) (HTTP \(status)\(field.map { ", field \($0)" } ?? ""))"
        case .rateLimited(let seconds, let detail): "\(detail) (the server asks to wait \(Int(seconds.rounded(.up))) s)"
        case .transport(let message): "could not reach the server: \(message)"
        case .unexpected(let message): message
        }
    }
}

/// ISO 8601 times as the server writes them, with or without fractions of a second.
struct FlexibleDates: DateTranscoder {
    func encode(_ date: Date) throws -> String { date.ISO8601Format() }

    func decode(_ text: String) throws -> Date {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not an ISO 8601 time: \(text)"))
    }
}

/// Adds the bearer token to every request.
struct Signing: ClientMiddleware {
    let token: String?

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        if let token { request.headerFields[.authorization] = "Bearer \(token)" }
        return try await next(request, body, baseURL)
    }
}

/// Turns every answer of 400 and up into `IrisClientError.problem`, with the server's words.
struct Problems: ClientMiddleware {
    struct Document: Decodable {
        var detail: String?
        var title: String?
        var field: String?
    }

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let (response, responseBody) = try await next(request, body, baseURL)
        guard response.status.code >= 400 else { return (response, responseBody) }
        var detail = response.status.reasonPhrase
        var field: String?
        if let responseBody, let data = try? await Data(collecting: responseBody, upTo: 64 * 1024),
            let document = try? JSONDecoder().decode(Document.self, from: data)
        {
            detail = document.detail ?? document.title ?? detail
            field = document.field
        }
        if response.status.code == 429 || response.status.code == 503,
            let wait = response.headerFields[.retryAfter].flatMap(Double.init), wait >= 0
        {
            throw IrisClientError.rateLimited(retryAfter: min(wait, 3600), detail: detail)
        }
        throw IrisClientError.problem(status: response.status.code, detail: detail, field: field)
    }
}
