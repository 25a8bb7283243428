public import IrisCore
public import IrisStore
public import Logging

/// The one way into the event log: every event (a request's, a job's, a command's) is
/// appended here, with a typed `EventAction`. Failing to record an event never fails the
/// work that caused it; it is logged instead.
public struct AuditLog: Sendable {
    /// Who an event names as its actor: kind (`user`, `token`, `link`, `anonymous`, `system`), id and name.
    public struct Actor: Sendable, Equatable {
        public var kind: String
        public var id: Int64?
        public var name: String

        public init(kind: String, id: Int64?, name: String) {
            (self.kind, self.id, self.name) = (kind, id, name)
        }

        /// A part of Iris acting on its own: "iris worker", "iris repairer", "iris command".
        public static func system(_ name: String) -> Actor { Actor(kind: "system", id: nil, name: name) }

        /// A contributor link, by its name.
        public static func link(_ link: UploadLink) -> Actor {
            Actor(kind: "link", id: link.id, name: "link \(link.name)")
        }

        /// How the log names a caller.
        public static func caller(_ caller: Caller) -> Actor {
            switch caller {
            case .anonymous: Actor(kind: "anonymous", id: nil, name: "anonymous")
            case .session(let user, _): Actor(kind: "user", id: user.id, name: user.username)
            case .token(let user, let token):
                Actor(kind: "token", id: token.id, name: "\(user.username) (token \(token.name))")
            }
        }
    }

    public let store: IrisStore
    public let logger: Logger
    public var mode: ServerMode

    public init(store: IrisStore, logger: Logger = Logger(label: "iris.events"), mode: ServerMode = .normal) {
        self.store = store
        self.logger = logger
        self.mode = mode
    }

    /// Records `action` done by the request's caller.
    public func record(
        _ caller: Caller, _ action: EventAction, project: Int64? = nil, subject: String? = nil,
        detail: [String: String] = [:]
    ) async {
        await record(as: .caller(caller), action, project: project, subject: subject, detail: detail)
    }

    /// Records `action` done by `actor`.
    public func record(
        as actor: Actor, _ action: EventAction, project: Int64? = nil, subject: String? = nil,
        detail: [String: String] = [:]
    ) async {
        guard let event = event(as: actor, action, project: project, subject: subject, detail: detail) else { return }
        do {
            _ = try await store.events.append(event)
        } catch {
            logger.error(
                "could not record an event",
                metadata: ["action": .string(action.rawValue), "error": .string("\(error)")])
        }
    }

    /// The event `record` would append, for a caller that writes it in its own transaction
    /// (so the change and its record commit together); nil when this mode keeps no such event.
    public func event(
        as actor: Actor, _ action: EventAction, project: Int64? = nil, subject: String? = nil,
        detail: [String: String] = [:]
    ) -> Event? {
        // Demo mode keeps nothing that uploads cause; sign-ins and admin actions are still recorded.
        if mode == .demo && [.imageUploaded, .importCompleted].contains(action) { return nil }
        var event = Self.template(as: actor, action)
        (event.projectID, event.subject, event.detail) = (project, subject, detail)
        return event
    }

    /// An event naming only its actor and action, for a store that writes one per row of a
    /// change in the change's own transaction and fills in each row's project, subject and
    /// detail (`label.changed` per photo relabelled, `review.decided` per decision: ten
    /// thousand a statement). Every mode keeps these.
    public static func template(as actor: Actor, _ action: EventAction) -> Event {
        Event(actorKind: actor.kind, actorID: actor.id, actorName: actor.name, action: action.rawValue)
    }
}
