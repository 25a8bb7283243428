public import Foundation
public import IrisCore
import SQLKit

/// Users, sessions, API tokens and project roles.
public protocol AccountRepository: Sendable {
    func userCount() async throws -> Int
    /// A taken username is a 409.
    func createUser(username: String, passwordHash: String, isAdmin: Bool) async throws -> User
    func users() async throws -> [User]
    func user(id: Int64) async throws -> User?
    /// The user and their password hash, for signing in.
    func credentials(username: String) async throws -> (User, String)?
    func setDisabled(userID: Int64, _ disabled: Bool) async throws
    /// Disables or enables a user and makes them an administrator or not (nil: unchanged), but
    /// never leaves the instance without an active administrator: that is a conflict.
    func updateUser(id: Int64, disabled: Bool?, isAdmin: Bool?) async throws
    func setPasswordHash(userID: Int64, _ hash: String) async throws

    func createSession(userID: Int64, idHash: String, csrfToken: String, expiresAt: Date) async throws
    /// The live session's user and CSRF token; expired sessions and disabled users give nil.
    func session(idHash: String) async throws -> (User, String)?
    func deleteSession(idHash: String) async throws

    /// `parentID`: the token it was created with, if any (revoking that one revokes this one).
    func createToken(
        userID: Int64, name: String, tokenHash: String, scopes: [TokenScope], projectID: Int64?, expiresAt: Date?,
        parentID: Int64?
    ) async throws -> APIToken
    /// The token and its user, whatever their state: the caller decides what expired or revoked means.
    func token(hash: String) async throws -> (User, APIToken)?
    func tokens(userID: Int64?) async throws -> [APIToken]
    /// Revokes a token and every token created with it, transitively; when `userID` is given it
    /// must own the token. Answers whether the token itself was live and is now revoked.
    func revokeToken(id: Int64, userID: Int64?) async throws -> Bool
    func touchToken(id: Int64) async throws

    /// Sets (or with nil removes) a user's role in a project.
    func setRole(projectID: Int64, userID: Int64, _ role: Role?) async throws
    /// `setRole`, but never leaves a project that has an owner without one: removing or
    /// demoting its last owner is a conflict.
    func changeRole(projectID: Int64, userID: Int64, _ role: Role?) async throws
    func role(projectID: Int64, userID: Int64) async throws -> Role?
    func members(projectID: Int64) async throws -> [(User, Role)]
    /// The projects a user has any role in.
    func projectIDs(userID: Int64) async throws -> [Int64]
}

extension AccountRepository {
    /// A token created outside any other token (a web session, `iris token create`).
    public func createToken(
        userID: Int64, name: String, tokenHash: String, scopes: [TokenScope], projectID: Int64?, expiresAt: Date?
    ) async throws -> APIToken {
        try await createToken(
            userID: userID, name: name, tokenHash: tokenHash, scopes: scopes, projectID: projectID,
            expiresAt: expiresAt, parentID: nil)
    }
}

/// `AccountRepository` in SQL, for SQLite and PostgreSQL alike.
public struct SQLAccountRepository: AccountRepository {
    let database: IrisDatabase

    public init(database: IrisDatabase) { self.database = database }

    static let userColumns = "u.id, u.username, u.is_admin, u.disabled, u.created_at"
    static let tokenColumns =
        "t.id AS token_id, t.user_id, t.name, t.scopes, t.project_id, t.expires_at, t.revoked_at, t.last_used_at, t.created_at AS token_created_at, t.parent_id"

    public func userCount() async throws -> Int {
        try await database.withConnection { db in
            Int(try await db.raw("SELECT COUNT(*) AS n FROM users").first()?.decode(column: "n", as: Int64.self) ?? 0)
        }
    }

    public func createUser(username: String, passwordHash: String, isAdmin: Bool) async throws -> User {
        try await database.transaction { db in
            guard
                try await db.raw(
                    "INSERT INTO users (username, password_hash, is_admin, disabled, created_at) VALUES (\(bind: username), \(bind: passwordHash), \(bind: isAdmin ? 1 : 0), 0, \(bind: Clock.nowMilliseconds())) ON CONFLICT (username) DO NOTHING RETURNING id"
                ).first() != nil
            else {
                throw StoreError.conflict("a user named \"\(username)\" already exists", field: "username")
            }
            guard
                let row = try await db.raw(
                    "SELECT \(unsafeRaw: Self.userColumns) FROM users u WHERE u.username = \(bind: username)"
                ).first()
            else {
                throw StoreError.inconsistent("the new user vanished")
            }
            return try Self.user(row)
        }
    }

    public func users() async throws -> [User] {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM users u ORDER BY u.id").all().map(Self.user)
        }
    }

    public func user(id: Int64) async throws -> User? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM users u WHERE u.id = \(bind: id)").first().map(
                Self.user)
        }
    }

    public func credentials(username: String) async throws -> (User, String)? {
        try await database.withConnection { db in
            guard
                let row = try await db.raw(
                    "SELECT \(unsafeRaw: Self.userColumns), u.password_hash FROM users u WHERE u.username = \(bind: username)"
                ).first()
            else { return nil }
            return (try Self.user(row), try row.decode(column: "password_hash", as: String.self))
        }
    }

    public func setDisabled(userID: Int64, _ disabled: Bool) async throws {
        try await database.transaction { db in
            try await db.raw("UPDATE users SET disabled = \(bind: disabled ? 1 : 0) WHERE id = \(bind: userID)").run()
            // A disabled user's sessions end at once (tokens are refused while disabled).
            if disabled { try await db.raw("DELETE FROM sessions WHERE user_id = \(bind: userID)").run() }
        }
    }

    public func updateUser(id: Int64, disabled: Bool?, isAdmin: Bool?) async throws {
        let dialect = database.dialect
        try await database.transaction { db in
            // Hold the active administrators' rows, so two changes at once cannot each leave the
            // other as the last (SQLite's writes are serial anyway).
            let lock: SQLQueryString = dialect == .postgres ? " FOR UPDATE" : ""
            let active = try await db.raw(
                "SELECT id FROM users WHERE is_admin = 1 AND disabled = 0 ORDER BY id\(lock)"
            ).all().map { try $0.decode(column: "id", as: Int64.self) }
            let losesOne = active.contains(id) && (disabled == true || isAdmin == false)
            if losesOne && active.count == 1 {
                let what = disabled == true ? "disabled" : "no longer an administrator"
                throw StoreError.conflict(
                    "this is the last active administrator; if they were \(what), nobody could administer Iris. Make another user an administrator first",
                    field: disabled == true ? "disabled" : "is_admin")
            }
            if let isAdmin {
                try await db.raw("UPDATE users SET is_admin = \(bind: isAdmin ? 1 : 0) WHERE id = \(bind: id)").run()
            }
            if let disabled {
                try await db.raw("UPDATE users SET disabled = \(bind: disabled ? 1 : 0) WHERE id = \(bind: id)").run()
                // A disabled user's sessions end at once (tokens are refused while disabled).
                if disabled { try await db.raw("DELETE FROM sessions WHERE user_id = \(bind: id)").run() }
            }
        }
    }

    public func setPasswordHash(userID: Int64, _ hash: String) async throws {
        try await database.transaction { db in
            try await db.raw("UPDATE users SET password_hash = \(bind: hash) WHERE id = \(bind: userID)").run()
            try await db.raw("DELETE FROM sessions WHERE user_id = \(bind: userID)").run()
        }
    }

    public func createSession(userID: Int64, idHash: String, csrfToken: String, expiresAt: Date) async throws {
        try await database.transaction { db in
            try await db.raw(
                """
                INSERT INTO sessions (id_hash, user_id, csrf_token, expires_at, created_at)
                VALUES (\(bind: idHash), \(bind: userID), \(bind: csrfToken), \(bind: Clock.milliseconds(expiresAt)), \(bind: Clock.nowMilliseconds()))
                """
            ).run()
        }
    }

    public func session(idHash: String) async throws -> (User, String)? {
        try await database.withConnection { db in
            guard
                let row = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.userColumns), s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id
                    WHERE s.id_hash = \(bind: idHash) AND s.expires_at > \(bind: Clock.nowMilliseconds()) AND u.disabled = 0
                    """
                ).first()
            else { return nil }
            return (try Self.user(row), try row.decode(column: "csrf_token", as: String.self))
        }
    }

    public func deleteSession(idHash: String) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM sessions WHERE id_hash = \(bind: idHash)").run()
        }
    }

    public func createToken(
        userID: Int64, name: String, tokenHash: String, scopes: [TokenScope], projectID: Int64?, expiresAt: Date?,
        parentID: Int64?
    ) async throws -> APIToken {
        try await database.transaction { db in
            guard
                let row = try await db.raw(
                    """
                    INSERT INTO api_tokens (user_id, name, token_hash, scopes, project_id, expires_at, created_at, parent_id)
                    VALUES (\(bind: userID), \(bind: name), \(bind: tokenHash), \(bind: scopes.map(\.rawValue).joined(separator: ",")),
                    \(bind: projectID), \(bind: expiresAt.map(Clock.milliseconds)), \(bind: Clock.nowMilliseconds()), \(bind: parentID))
                    RETURNING id AS token_id, user_id, name, scopes, project_id, expires_at, revoked_at, last_used_at, created_at AS token_created_at, parent_id
                    """
                ).first()
            else { throw StoreError.inconsistent("the new token vanished") }
            return try Self.token(row)
        }
    }

    public func token(hash: String) async throws -> (User, APIToken)? {
        try await database.withConnection { db in
            guard
                let row = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.userColumns), \(unsafeRaw: Self.tokenColumns) FROM api_tokens t JOIN users u ON u.id = t.user_id
                    WHERE t.token_hash = \(bind: hash)
                    """
                ).first()
            else { return nil }
            return (try Self.user(row), try Self.token(row))
        }
    }

    public func tokens(userID: Int64?) async throws -> [APIToken] {
        try await database.withConnection { db in
            var query: SQLQueryString = "SELECT \(unsafeRaw: Self.tokenColumns) FROM api_tokens t"
            if let userID { query += " WHERE t.user_id = \(bind: userID)" }
            query += " ORDER BY t.id"
            return try await db.raw(query).all().map(Self.token)
        }
    }

    public func revokeToken(id: Int64, userID: Int64?) async throws -> Bool {
        try await database.transaction { db in
            let now = Clock.nowMilliseconds()
            var query: SQLQueryString =
                "UPDATE api_tokens SET revoked_at = \(bind: now) WHERE id = \(bind: id) AND revoked_at IS NULL"
            if let userID { query += " AND user_id = \(bind: userID)" }
            query += " RETURNING id"
            guard try await db.raw(query).first() != nil else { return false }
            // Everything created with it, and with those, transitively: a child must not outlive
            // the authority it was made with.
            try await db.raw(
                """
                WITH RECURSIVE descendants(id) AS (
                    SELECT id FROM api_tokens WHERE parent_id = \(bind: id)
                    UNION SELECT t.id FROM api_tokens t JOIN descendants d ON t.parent_id = d.id)
                UPDATE api_tokens SET revoked_at = \(bind: now)
                WHERE id IN (SELECT id FROM descendants) AND revoked_at IS NULL
                """
            ).run()
            return true
        }
    }

    public func touchToken(id: Int64) async throws {
        try await database.withConnection { db in
            try await db.raw(
                "UPDATE api_tokens SET last_used_at = \(bind: Clock.nowMilliseconds()) WHERE id = \(bind: id)"
            ).run()
        }
    }

    public func setRole(projectID: Int64, userID: Int64, _ role: Role?) async throws {
        try await database.transaction { db in
            try await Self.replaceRole(projectID: projectID, userID: userID, role, on: db)
        }
    }

    /// The user's role in the project replaced by `role` (none: they leave it), inside the caller's transaction.
    static func replaceRole(projectID: Int64, userID: Int64, _ role: Role?, on db: any SQLDatabase) async throws {
        try await db.raw(
            "DELETE FROM project_members WHERE project_id = \(bind: projectID) AND user_id = \(bind: userID)"
        ).run()
        if let role {
            try await db.raw(
                """
                INSERT INTO project_members (project_id, user_id, role, created_at)
                VALUES (\(bind: projectID), \(bind: userID), \(bind: role.rawValue), \(bind: Clock.nowMilliseconds()))
                """
            ).run()
        }
    }

    public func changeRole(projectID: Int64, userID: Int64, _ role: Role?) async throws {
        let dialect = database.dialect
        try await database.transaction { db in
            // Hold the project's owners, so two changes at once cannot each leave the other as
            // the last (SQLite's writes are serial anyway).
            let lock: SQLQueryString = dialect == .postgres ? " FOR UPDATE" : ""
            let owners = try await db.raw(
                "SELECT user_id FROM project_members WHERE project_id = \(bind: projectID) AND role = 'owner' ORDER BY user_id\(lock)"
            ).all().map { try $0.decode(column: "user_id", as: Int64.self) }
            if owners == [userID] && role != .owner {
                throw StoreError.conflict(
                    role == nil
                        ? "this is the project's last owner; removing them would leave nobody to manage it. Make another member an owner first"
                        : "this is the project's last owner; demoting them would leave nobody to manage it. Make another member an owner first",
                    field: role == nil ? "username" : "role")
            }
            try await Self.replaceRole(projectID: projectID, userID: userID, role, on: db)
        }
    }

    public func role(projectID: Int64, userID: Int64) async throws -> Role? {
        try await database.withConnection { db in
            try await db.raw(
                "SELECT role FROM project_members WHERE project_id = \(bind: projectID) AND user_id = \(bind: userID)"
            ).first()
                .flatMap { Role(rawValue: try $0.decode(column: "role", as: String.self)) }
        }
    }

    public func members(projectID: Int64) async throws -> [(User, Role)] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.userColumns), m.role FROM project_members m JOIN users u ON u.id = m.user_id
                WHERE m.project_id = \(bind: projectID) ORDER BY u.username
                """
            ).all().compactMap { row in
                guard let role = Role(rawValue: try row.decode(column: "role", as: String.self)) else { return nil }
                return (try Self.user(row), role)
            }
        }
    }

    public func projectIDs(userID: Int64) async throws -> [Int64] {
        try await database.withConnection { db in
            try await db.raw(
                "SELECT project_id FROM project_members WHERE user_id = \(bind: userID) ORDER BY project_id"
            ).all()
                .map { try $0.decode(column: "project_id", as: Int64.self) }
        }
    }

    static func user(_ row: any SQLRow) throws -> User {
        User(
            id: try row.decode(column: "id", as: Int64.self),
            username: try row.decode(column: "username", as: String.self),
            isAdmin: try row.decode(column: "is_admin", as: Int64.self) != 0,
            disabled: try row.decode(column: "disabled", as: Int64.self) != 0,
            createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }

    static func token(_ row: any SQLRow) throws -> APIToken {
        APIToken(
            id: try row.decode(column: "token_id", as: Int64.self),
            userID: try row.decode(column: "user_id", as: Int64.self),
            name: try row.decode(column: "name", as: String.self),
            scopes: try row.decode(column: "scopes", as: String.self).split(separator: ",").compactMap {
                TokenScope(rawValue: String($0))
            },
            projectID: try row.decode(column: "project_id", as: Int64?.self),
            expiresAt: try row.decode(column: "expires_at", as: Int64?.self).map(Clock.date(milliseconds:)),
            revokedAt: try row.decode(column: "revoked_at", as: Int64?.self).map(Clock.date(milliseconds:)),
            lastUsedAt: try row.decode(column: "last_used_at", as: Int64?.self).map(Clock.date(milliseconds:)),
            createdAt: Clock.date(milliseconds: try row.decode(column: "token_created_at", as: Int64.self)),
            parentID: try row.decode(column: "parent_id", as: Int64?.self))
    }
}
