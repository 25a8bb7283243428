import Foundation
import HummingbirdBcrypt
public import IrisCore
public import IrisStore
import NIOPosix

/// Creating users and setting passwords, shared by the API and the `iris user` command.
public struct Accounts: Sendable {
    public static let minimumPasswordLength = 10

    public let store: IrisStore
    public let bcryptCost: UInt8

    public init(store: IrisStore, bcryptCost: UInt8 = 12) {
        self.store = store
        self.bcryptCost = bcryptCost
    }

    public func create(username: String, password: String, isAdmin: Bool) async throws -> User {
        let name = try NameRules.validated(username, field: "username", maxLength: 64)
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
            throw Refusal.invalid("username may hold letters, digits, '.', '_' and '-' only", field: "username")
        }
        let hash = try await hash(password)
        return try await store.accounts.createUser(username: name, passwordHash: hash, isAdmin: isAdmin)
    }

    public func setPassword(userID: Int64, _ password: String) async throws {
        try await store.accounts.setPasswordHash(userID: userID, try await hash(password))
    }

    public func hash(_ password: String) async throws -> String {
        guard password.count >= Self.minimumPasswordLength else {
            throw Refusal.invalid(
                "password must be at least \(Self.minimumPasswordLength) characters", field: "password")
        }
        guard password.utf8.count <= 72 else {
            throw Refusal.invalid("password must be at most 72 bytes (bcrypt's limit)", field: "password")
        }
        let cost = bcryptCost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    /// On first start with no users: creates `admin` with a random password and returns it, to be shown once.
    public func bootstrapAdmin() async throws -> String? {
        guard try await store.accounts.userCount() == 0 else { return nil }
        let password = Secrets.password()
        _ = try await create(username: "admin", password: password, isAdmin: true)
        return password
    }
}
