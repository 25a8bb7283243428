import Foundation
import IrisCore
import IrisServices
import IrisStore
import Logging

/// Appends events to the audit log on behalf of the caller. Failing to record an event
/// never fails the request that caused it; it is logged instead.
struct AuditLog: Sendable {
    let store: IrisStore
    let logger: Logger
    var mode: ServerMode = .normal

    func record(
        _ caller: Caller, _ action: String, project: Int64? = nil, subject: String? = nil,
        detail: [String: String] = [:]
    ) async {
        let (kind, id, name) = Self.actor(caller)
        await record(
            Event(
                actorKind: kind, actorID: id, actorName: name, action: action, projectID: project, subject: subject,
                detail: detail))
    }

    /// How the log names a caller: kind, id and name.
    static func actor(_ caller: Caller) -> (kind: String, id: Int64?, name: String) {
        switch caller {
        case .anonymous: ("anonymous", nil, "anonymous")
        case .session(let user, _): ("user", user.id, user.username)
        case .token(let user, let token): ("token", token.id, "\(user.username) (token \(token.name))")
        }
    }

    func record(_ event: Event) async {
        // Demo mode keeps nothing that uploads cause; sign-ins and admin actions are still recorded.
        if mode == .demo && ["image.uploaded", "import.completed"].contains(event.action) { return }
        do {
            try await store.events.append(event)
        } catch {
            logger.error(
                "could not record an event", metadata: ["action": .string(event.action), "error": .string("\(error)")])
        }
    }
}
