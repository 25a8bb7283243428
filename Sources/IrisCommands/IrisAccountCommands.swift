import Foundation
public import IrisCore
import IrisServer
public import IrisServices
import IrisStore

/// `iris user …` and `iris token …`: the same account operations as the API, against
/// the database directly (no server needed).
public enum IrisAccountCommands {
    public static func listUsers(_ settings: IrisSettings) async throws {
        try await withStore(settings) { store in
            for user in try await store.accounts.users() {
                print(
                    "\(user.id)\t\(user.username)\(user.isAdmin ? "\tadmin" : "")\(user.disabled ? "\tdisabled" : "")")
            }
        }
    }

    public static func createUser(_ settings: IrisSettings, username: String, admin: Bool, password: String?)
        async throws
    {
        try await withStore(settings) { store in
            let chosen = password ?? Secrets.password()
            let user = try await Accounts(store: store, bcryptCost: settings.bcryptCost).create(
                username: username, password: chosen, isAdmin: admin)
            await record(store, .userCreated, subject: user.username)
            print(
                password == nil
                    ? "Created \(user.username). Password (shown once): \(chosen)" : "Created \(user.username).")
        }
    }

    public static func setDisabled(_ settings: IrisSettings, username: String, _ disabled: Bool) async throws {
        try await withStore(settings) { store in
            let user = try await find(username, in: store)
            try await store.accounts.setDisabled(userID: user.id, disabled)
            await record(store, disabled ? .userDisabled : .userEnabled, subject: user.username)
            print(disabled ? "Disabled \(user.username): sessions ended, tokens refused." : "Enabled \(user.username).")
        }
    }

    public static func resetPassword(_ settings: IrisSettings, username: String, password: String?) async throws {
        try await withStore(settings) { store in
            let user = try await find(username, in: store)
            let chosen = password ?? Secrets.password()
            try await Accounts(store: store, bcryptCost: settings.bcryptCost).setPassword(userID: user.id, chosen)
            await record(store, .userPasswordReset, subject: user.username)
            print(
                password == nil
                    ? "New password for \(user.username) (shown once): \(chosen)"
                    : "Password changed for \(user.username).")
        }
    }

    public static func createToken(
        _ settings: IrisSettings, username: String, name: String, scopes: [TokenScope], projectID: Int64?,
        expiresDays: Int?
    ) async throws {
        try await withStore(settings) { store in
            let user = try await find(username, in: store)
            if scopes.contains(.admin) && !user.isAdmin {
                throw Refusal.invalid("only an administrator's token may have the admin scope", field: "scopes")
            }
            let label = try NameRules.validated(name, field: "name", maxLength: 100)
            let secret = Secrets.newToken()
            let token = try await store.accounts.createToken(
                userID: user.id, name: label, tokenHash: Secrets.hash(secret), scopes: scopes, projectID: projectID,
                expiresAt: expiresDays.map { Date().addingTimeInterval(Double($0) * 86_400) })
            await record(store, .tokenCreated, subject: "token \(token.id)")
            // The secret alone on the last line, so scripts can take it with `tail -n 1`.
            FileHandle.standardError.write(Data("Token \(token.id) for \(user.username) (shown once):\n".utf8))
            print(secret)
        }
    }

    public static func listTokens(_ settings: IrisSettings, username: String?) async throws {
        try await withStore(settings) { store in
            var userID: Int64?
            if let username { userID = try await find(username, in: store).id }
            for token in try await store.accounts.tokens(userID: userID) {
                let state =
                    token.revokedAt != nil
                    ? "revoked" : (token.expiresAt.map { $0 <= Date() } == true ? "expired" : "live")
                print(
                    "\(token.id)\tuser \(token.userID)\t\(token.name)\t\(token.scopes.map(\.rawValue).joined(separator: ","))\t\(token.projectID.map { "project \($0)" } ?? "all projects")\t\(state)"
                )
            }
        }
    }

    public static func revokeToken(_ settings: IrisSettings, id: Int64) async throws {
        try await withStore(settings) { store in
            guard try await store.accounts.revokeToken(id: id, userID: nil) else {
                throw Refusal.notFound("no live token has id \(id)")
            }
            await record(store, .tokenRevoked, subject: "token \(id)")
            print("Revoked token \(id).")
        }
    }

    static func find(_ username: String, in store: IrisStore) async throws -> User {
        guard let (user, _) = try await store.accounts.credentials(username: username) else {
            throw Refusal.notFound("no user is named \(username)")
        }
        return user
    }

    static func record(_ store: IrisStore, _ action: EventAction, subject: String) async {
        await AuditLog(store: store).record(as: .system("iris command"), action, subject: subject)
    }

    /// Opens the store (migrating it), runs `body`, closes it; problems become one-line failures.
    static func withStore(_ settings: IrisSettings, _ body: (IrisStore) async throws -> Void) async throws {
        try FileManager.default.createDirectory(at: settings.dataDirectory, withIntermediateDirectories: true)
        let store = try await IrisStore.open(settings.database, poolSize: 1, logger: settings.makeLogger())
        do {
            try await body(store)
        } catch {
            await store.database.shutdown()
            if let message = CommandFailure.message(for: error) { throw CommandFailure(message: message) }
            throw error
        }
        await store.database.shutdown()
    }
}
