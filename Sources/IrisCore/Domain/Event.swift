public import Foundation

/// One entry of the append-only audit log: who did what, to which project and subject, when.
public struct Event: Sendable, Equatable, Codable {
    /// `user`, `token`, `link` or `system`.
    public var actorKind: String
    public var actorID: Int64?
    public var actorName: String
    /// Dotted verb, e.g. `image.uploaded`, `auth.sign_in_failed`, `token.created`.
    public var action: String
    public var projectID: Int64?
    public var subject: String?
    /// Small JSON-able details; never secrets.
    public var detail: [String: String]
    public var id: Int64
    public var createdAt: Date

    public init(
        actorKind: String, actorID: Int64?, actorName: String, action: String, projectID: Int64? = nil,
        subject: String? = nil,
        detail: [String: String] = [:], id: Int64 = 0, createdAt: Date = Date()
    ) {
        self.actorKind = actorKind
        self.actorID = actorID
        self.actorName = actorName
        self.action = action
        self.projectID = projectID
        self.subject = subject
        self.detail = detail
        self.id = id
        self.createdAt = createdAt
    }
}
