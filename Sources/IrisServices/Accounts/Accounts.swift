public import Foundation
import HummingbirdBcrypt
public import IrisCore
public import IrisStore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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

    /// A user changes their own password: `current` must be it (else a refusal naming
    /// `current_password`, and nothing changes).
    public func changePassword(of user: User, current: String, to new: String) async throws {
        guard let (_, hash) = try await store.accounts.credentials(username: user.username),
            try await NIOThreadPool.singleton.runIfActive({ Bcrypt.verify(current, hash: hash) })
        else {
            throw Refusal.forbidden("current_password is not your password", field: "current_password")
        }
        guard new != current else {
            throw Refusal.invalid("the new password is the one you have", field: "password")
        }
        try await setPassword(userID: user.id, new)
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

    /// On first start with no users: creates `admin` with a random password, written to
    /// `passwordFile` (made new, mode 0600) and nowhere else: not to standard output, which
    /// container runtimes keep in their logs for as long as the container exists. Answers the
    /// file, or nil when there were users already (or another process made them meanwhile).
    public func bootstrapAdmin(passwordFile: URL) async throws -> URL? {
        guard try await store.accounts.userCount() == 0 else { return nil }
        let password = Secrets.password()
        // The file first: an admin whose password was written nowhere would lock everyone out.
        try Self.writePrivately(password + "\n", to: passwordFile)
        do {
            _ = try await create(username: "admin", password: password, isAdmin: true)
        } catch {
            try? FileManager.default.removeItem(at: passwordFile)
            if case StoreError.conflict = error { return nil }  // another process made the admin first
            throw error
        }
        return passwordFile
    }

    /// Writes `text` to a file that must not exist yet, readable and writable by its owner only
    /// (0600 from the start, whatever the umask: never briefly readable by others).
    static func writePrivately(_ text: String, to file: URL) throws {
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        // A file left by an earlier first start (its database since replaced) names a stale password.
        try? FileManager.default.removeItem(at: file)
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            throw Refusal(
                .unavailable, reason: "password-file",
                detail: "cannot create \(file.path) for the first administrator's password: \(reason)")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        try handle.write(contentsOf: Data(text.utf8))
        try handle.synchronize()
    }
}
