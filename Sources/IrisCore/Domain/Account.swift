public import Foundation

/// Someone who signs in.
public struct User: Sendable, Equatable, Codable {
    public var id: Int64
    public var username: String
    public var isAdmin: Bool
    public var disabled: Bool
    public var createdAt: Date

    public init(id: Int64, username: String, isAdmin: Bool, disabled: Bool, createdAt: Date) {
        self.id = id
        self.username = username
        self.isAdmin = isAdmin
        self.disabled = disabled
        self.createdAt = createdAt
    }
}

/// A user's role in one project; each includes everything the roles below it may do.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    /// Reads the project.
    case viewer
    /// Uploads and labels, in this project only.
    case contributor
    /// Manages images and labels.
    case editor
    /// Manages members and settings; deletes the project.
    case owner

    var rank: Int { Role.allCases.firstIndex(of: self)! }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// What an API token may do. `read` allows safe methods; `write` adds changes;
/// `admin` adds instance administration (and only for an admin user).
public enum TokenScope: String, Sendable, Codable, CaseIterable {
    case read, write, admin
}

/// An API token as listed: never the secret itself, which is shown once at creation.
public struct APIToken: Sendable, Equatable, Codable {
    public var id: Int64
    public var userID: Int64
    public var name: String
    public var scopes: [TokenScope]
    public var projectID: Int64?
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?
    public var createdAt: Date
    /// The token this one was created with (nil: created in a web session or with `iris token
    /// create`). Revoking that token revokes this one too.
    public var parentID: Int64?

    public init(
        id: Int64, userID: Int64, name: String, scopes: [TokenScope], projectID: Int64?, expiresAt: Date?,
        revokedAt: Date?,
        lastUsedAt: Date?, createdAt: Date, parentID: Int64? = nil
    ) {
        self.id = id
        self.userID = userID
        self.name = name
        self.scopes = scopes
        self.projectID = projectID
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
        self.createdAt = createdAt
        self.parentID = parentID
    }
}

/// Who is making a request, once their credentials are checked.
public enum Caller: Sendable, Equatable {
    case anonymous
    /// Signed in through the web: a session cookie (with its CSRF token).
    case session(User, csrfToken: String)
    /// An API token, with its scopes and optional project.
    case token(User, APIToken)

    public var user: User? {
        switch self {
        case .anonymous: nil
        case .session(let user, _), .token(let user, _): user
        }
    }

    /// Whether the caller holds an administrator's powers (every project, as an owner; the
    /// instance's administration): an administrator's web session, or their token with the
    /// `admin` scope. An administrator's read or write token reaches only the projects the
    /// administrator is a member of, with their role there, like anyone else's.
    public var isAdministrator: Bool {
        switch self {
        case .anonymous: false
        case .session(let user, _): user.isAdmin
        case .token(let user, let token): user.isAdmin && token.scopes.contains(.admin)
        }
    }

    /// The project a token is limited to (nil: not limited, or not a token).
    public var limitedToProject: Int64? {
        if case .token(_, let token) = self { token.projectID } else { nil }
    }
}
