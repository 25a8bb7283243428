import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore
import ServiceLifecycle

/// The audit log: `GET /api/v1/events` as JSON pages or Server-Sent Events.
struct EventController {
    let store: IrisStore
    let guardian: AccessGuard
    /// Live streams open per user and per client address: each holds a connection and polls,
    /// so one viewer with thousands of them slowed every request. A browser needs one (its
    /// tabs share it).
    let openStreams = OpenStreams(limit: OpenStreams.perCaller)

    func addRoutes(to api: Routes<RouterGroup<IrisRequestContext>>) {
        api.get("events", .signedIn, use: events)
    }

    struct EventBody: Codable, Sendable {
        var id: Int64
        var actor: String
        var actorKind: String
        var action: String
        var projectId: Int64?
        /// The project's name when the event was read, for notifications ("… in Birds").
        var projectName: String?
        var subject: String?
        var detail: [String: String]
        var createdAt: Date
    }

    /// `GET /api/v1/events`: Server-Sent Events when the client accepts `text/event-stream`
    /// (as EventSource does), else a JSON page.
    @Sendable func events(_ request: Request, context: IrisRequestContext) async throws -> Response {
        if request.headers[.accept]?.contains("text/event-stream") == true {
            return try await stream(request, context: context)
        }
        return try await listEvents(request, context: context).response(from: request, context: context)
    }

    static func body(_ event: Event, names: [Int64: String]) -> EventBody {
        EventBody(
            id: event.id, actor: event.actorName, actorKind: event.actorKind, action: event.action,
            projectId: event.projectID, projectName: event.projectID.flatMap { names[$0] },
            subject: event.subject, detail: event.detail, createdAt: event.createdAt)
    }

    /// Adds to `names` the names of the projects `events` are about that it lacks (a rename
    /// reads the name again; a deleted project has none).
    static func learnNames(of events: [Event], into names: inout [Int64: String], store: IrisStore) async throws {
        for event in events where event.action == EventAction.projectUpdated.rawValue {
            if let id = event.projectID { names[id] = nil }
        }
        for id in Set(events.compactMap(\.projectID)) where names[id] == nil {
            if let project = try await store.projects.find(id: id) { names[id] = project.name }
        }
    }

    /// The live stream: events after `Last-Event-ID` (or `cursor`; with neither, from now on),
    /// polled each second, a comment every 2 quiet seconds (for proxies, and to notice a page
    /// that has gone), and an end after `timeout` seconds (default 300), after which
    /// EventSource reconnects and resumes.
    func stream(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let visibleAtStart = try await guardian.visibleProjects(context.caller).map { Array($0) }
        let resume = try request.headers[.init("Last-Event-ID")!].map { raw -> Int64 in
            guard let id = Int64(raw), id >= 0 else {
                throw Problem.badRequest("Last-Event-ID must be an event id", field: "Last-Event-ID")
            }
            return id
        }
        var start = try resume ?? Parameters.cursor(request)
        if start == nil { start = try await store.events.latest(projectIDs: nil, limit: 1).first?.id ?? 0 }
        let timeoutText = request.uri.queryParameters.get("timeout") ?? "300"
        guard let timeout = Int(timeoutText), (1...3600).contains(timeout) else {
            throw Problem.badRequest("timeout must be 1 to 3600 seconds", field: "timeout")
        }
        var keys = ["address:\(context.clientKey)"]
        if let user = context.caller.user { keys.append("user:\(user.id)") }
        let slot = try await openStreams.open(keys, for: .seconds(timeout + 60))
        let (store, guardian, openStreams) = (self.store, self.guardian, self.openStreams)
        let credentials = AuthMiddleware(store: store, touchTokens: false)
        let first = start ?? 0
        let body = ResponseBody { writer in
            defer { Task { await openStreams.close(slot) } }
            let encoder = IrisJSON.makeEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var last = first
            let deadline = ContinuousClock.now + .seconds(timeout)
            var quiet = 0
            var visible = visibleAtStart
            var seesAll = try await guardian.seesFlagged(context.caller, among: visibleAtStart.map(Set.init))
            var checked = ContinuousClock.now
            var names: [Int64: String] = [:]
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            // A stream ends as soon as the server begins to stop: graceful shutdown waits for
            // responses in flight, and an open stream would hold it up to `timeout` seconds.
            while ContinuousClock.now < deadline && !Task.isShuttingDownGracefully && !Task.isCancelled {
                // Access is asked again every few seconds: a revoked token, a disabled user or
                // an ended session ends the stream; a removed membership stops that project's events.
                if ContinuousClock.now - checked >= Self.recheckEvery {
                    checked = ContinuousClock.now
                    guard let caller = await credentials.currentCaller(of: request) else { break }
                    visible = try await guardian.visibleProjects(caller).map { Array($0) }
                    seesAll = try await guardian.seesFlagged(caller, among: visible.map(Set.init))
                }
                let events = try await store.events.list(afterID: last, projectIDs: visible, limit: 100)
                let shown = try await Self.withoutHidden(events, seesAll: seesAll, store: store)
                try await Self.learnNames(of: shown, into: &names, store: store)
                for event in shown {
                    let data = String(decoding: try encoder.encode(Self.body(event, names: names)), as: UTF8.self)
                    try await writer.write(
                        ByteBuffer(string: "id: \(event.id)\nevent: \(event.action)\ndata: \(data)\n\n"))
                }
                // Past the hidden ones too, so they are not read again.
                if let newest = events.last { last = newest.id }
                if events.isEmpty {
                    quiet += 1
                    // A comment every 2 quiet seconds: proxies keep the stream open, and a page
                    // that has gone is noticed by the failed write within seconds, not when the
                    // next event comes (its stream would hold a place of `openStreams` meanwhile).
                    if quiet % 2 == 0 { try await writer.write(ByteBuffer(string: ":\n\n")) }
                    try await Task.sleep(for: .seconds(1))
                }
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"],
            body: body)
    }

    /// `events` without those about photos waiting for review or rejected in projects where the
    /// caller may not see such photos (below editor: `seesAll` holds the projects where they
    /// may, nil everywhere): the event's subject would name a hidden photo.
    static func withoutHidden(_ events: [Event], seesAll: Set<Int64>?, store: IrisStore) async throws -> [Event] {
        guard let seesAll else { return events }
        let guarded = events.filter { event in
            guard let project = event.projectID, !seesAll.contains(project), let subject = event.subject else {
                return false
            }
            return subject.count == 64 && subject.allSatisfy(\.isHexDigit)
        }
        guard !guarded.isEmpty else { return events }
        let hidden = try await store.reviews.unaccepted(
            Array(Set(guarded.compactMap(\.subject))), in: Array(Set(guarded.compactMap(\.projectID))))
        guard !hidden.isEmpty else { return events }
        return events.filter { event in
            guard let project = event.projectID, let subject = event.subject else { return true }
            return !hidden.contains("\(project):\(subject)") || seesAll.contains(project)
        }
    }

    /// How often an open stream asks again who its caller is and what they may see.
    static let recheckEvery: Duration = .seconds(2)

    /// Events of the projects the caller may read (all for admins), oldest first after `cursor`.
    @Sendable func listEvents(_ request: Request, context: IrisRequestContext) async throws -> APIModel.Page<EventBody>
    {
        let limit = try Parameters.limit(request, default: 100, max: 1000)
        let visible = try await guardian.visibleProjects(context.caller)
        let events = try await store.events.list(
            afterID: try Parameters.cursor(request) ?? 0, projectIDs: visible.map { Array($0) }, limit: limit)
        let seesAll = try await guardian.seesFlagged(context.caller, among: visible)
        let shown = try await Self.withoutHidden(events, seesAll: seesAll, store: store)
        var names: [Int64: String] = [:]
        try await Self.learnNames(of: shown, into: &names, store: store)
        let items = shown.map { Self.body($0, names: names) }
        return APIModel.Page(items: items, nextCursor: events.count == limit ? events.last.map { String($0.id) } : nil)
    }
}

/// Counts open event streams per key (user, client address). A slot is given back when its
/// stream ends, and lapses on its own after the stream's longest life, so a stream whose body
/// never ran cannot hold a slot for ever.
actor OpenStreams {
    static let perCaller = 32

    struct Slot: Sendable {
        let id = UUID()
        let keys: [String]
    }

    let limit: Int
    private var open: [String: [UUID: ContinuousClock.Instant]] = [:]

    init(limit: Int) { self.limit = limit }

    /// A slot under every key, or a 429 when one of them has `limit` streams open.
    func open(_ keys: [String], for life: Duration) throws -> Slot {
        let now = ContinuousClock.now
        for key in keys {
            open[key] = open[key]?.filter { $0.value > now }
            if (open[key]?.count ?? 0) >= limit {
                throw Problem.tooManyRequests(
                    "\(limit) live event streams are open already; close one (a browser needs only one for all its tabs)",
                    retryAfter: 5)
            }
        }
        let slot = Slot(keys: keys)
        for key in keys { open[key, default: [:]][slot.id] = now + life }
        return slot
    }

    func close(_ slot: Slot) {
        for key in slot.keys {
            open[key]?[slot.id] = nil
            if open[key]?.isEmpty == true { open[key] = nil }
        }
    }

    func count(_ key: String) -> Int { open[key]?.count ?? 0 }
}
