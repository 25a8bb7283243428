public import IrisCore
import IrisServices

/// What a route requires of its caller. Every route declares one when it is registered
/// (`Routes`), so a route cannot exist without a decision about who may call it.
///
/// On top of the declaration, a token's scopes apply: `read` allows GET, `write` allows
/// changes, `admin` allows administration; and a token limited to one project reaches
/// nothing else. A web session passes its CSRF token with every change.
public enum Access: Sendable, Hashable, CustomStringConvertible {
    /// Anyone, signed in or not (health checks, the sign-in page, static files).
    case open
    /// Any signed-in user.
    case signedIn
    /// An instance administrator.
    case admin
    /// At least this role in the project named by the route's `{id}`.
    case project(Role)
    /// Whoever may view some project holding the image named by the route's `{sha256}`.
    case image
    /// At least this role in some project holding the image named by the route's `{sha256}`
    /// (the handler picks which, among those).
    case imageRole(Role)
    /// At least this role in the project of the repair named by the route's `{repairID}`.
    case repair(Role)
    /// Whoever holds the live upload link named by the route's `{code}`, signed in or not.
    case link
    /// At least this role in the project of the job named by the route's `{jobID}`;
    /// jobs of no project (maintenance) are for administrators.
    case job(Role)

    public var description: String {
        switch self {
        case .open: "open"
        case .signedIn: "signed-in"
        case .admin: "admin"
        case .project(let role): "project \(role.rawValue)"
        case .image: "image viewer"
        case .imageRole(let role): "image's project \(role.rawValue)"
        case .repair(let role): "repair's project \(role.rawValue)"
        case .link: "upload-link holder"
        case .job(let role): "job's project \(role.rawValue)"
        }
    }
}
