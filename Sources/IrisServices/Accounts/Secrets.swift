import Crypto
public import Foundation
import IrisCore

/// Random secrets (session ids, API tokens, CSRF tokens, passwords) and their stored form.
public enum Secrets {
    public static let tokenPrefix = "iris_"

    /// 32 random bytes as unpadded base64url: 43 characters, 256 bits.
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return base64url(Data(bytes))
    }

    public static func newToken() -> String { tokenPrefix + random() }

    /// A password people can type: 20 characters from an alphabet without look-alikes.
    public static func password() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// Tokens and session ids are 256-bit random, so a fast hash is enough to store them:
    /// unlike passwords, they cannot be guessed from a dictionary.
    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).lowercaseHex
    }

    public static func isWellFormed(_ secret: String) -> Bool {
        secret.utf8.count == 43
            && secret.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == 0x2D || byte == 0x5F
            }
    }

    public static func isWellFormedToken(_ token: String) -> Bool {
        token.hasPrefix(tokenPrefix) && isWellFormed(String(token.dropFirst(tokenPrefix.count)))
    }

    /// Compares secrets in time independent of where they differ.
    public static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    public static func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// The stored form of tokens and session ids, public so tools and tests can make tokens.
public enum SecretHashing {
    public static func sha256Hex(_ secret: String) -> String { Secrets.hash(secret) }

    /// A new API token in the server's format (`iris_` and 43 base64url characters).
    public static func newToken() -> String { Secrets.newToken() }
}
