public import Foundation
public import IrisCore
import IrisServer
import IrisServices
public import IrisStore

/// Users and tokens made directly in the store, for tests that need several identities.
public enum TestAccounts {
    /// Creates an API token for `user` and returns its secret.
    public static func token(
        for user: User, scopes: [TokenScope], projectID: Int64? = nil, expiresAt: Date? = nil, in store: IrisStore
    ) async throws -> String {
        let secret = SecretHashing.newToken()
        _ = try await store.accounts.createToken(
            userID: user.id, name: "test", tokenHash: TestAccounts.hash(secret), scopes: scopes, projectID: projectID,
            expiresAt: expiresAt)
        return secret
    }

    /// The stored form of a token (SHA-256, hex), as the server computes it.
    public static func hash(_ secret: String) -> String {
        SecretHashing.sha256Hex(secret)
    }
}
