import Crypto
public import Foundation
import IrisCore

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) for S3 requests, in the Authorization header
/// or in a presigned URL's query, written from AWS's description of the algorithm: a canonical
/// request (method, URI-encoded path, sorted query, lower-cased sorted headers, the names
/// signed, the payload's SHA-256), a string to sign over its hash and the credential scope,
/// and an HMAC chain from the secret through the date, region, service and `aws4_request`.
public struct SigV4Signer: Sendable {
    public struct Credentials: Sendable {
        public var accessKey: String
        public var secretKey: String
        /// For temporary credentials: sent as `x-amz-security-token`.
        public var sessionToken: String?

        public init(accessKey: String, secretKey: String, sessionToken: String? = nil) {
            (self.accessKey, self.secretKey, self.sessionToken) = (accessKey, secretKey, sessionToken)
        }
    }

    public let credentials: Credentials
    public let region: String
    public let service: String

    public init(credentials: Credentials, region: String, service: String = "s3") {
        (self.credentials, self.region, self.service) = (credentials, region, service)
    }

    /// The payload hash of a request whose body is not hashed (presigned URLs).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// The SHA-256 of no bytes.
    public static let emptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The headers to add to a request so S3 accepts it: `x-amz-date`, `x-amz-content-sha256`,
    /// the security token when there is one, and `authorization`. `headers` must hold `host`
    /// and every other header that is to be signed; `path` is the unencoded object path.
    public func sign(
        method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadHash: String,
        date: Date
    ) -> [(String, String)] {
        let (stamp, day) = Self.stamps(date)
        var added = [("x-amz-date", stamp), ("x-amz-content-sha256", payloadHash)]
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        let all = (headers + added).map { ($0.0.lowercased(), Self.trimmed($0.1)) }.sorted { $0.0 < $1.0 }
        let signedNames = all.map(\.0).joined(separator: ";")
        let canonical = [
            method, Self.encodedPath(path), Self.canonicalQuery(query),
            all.map { "\($0.0):\($0.1)\n" }.joined(), signedNames, payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let signature = self.signature(canonical: canonical, stamp: stamp, day: day, scope: scope)
        added.append(
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope),SignedHeaders=\(signedNames),Signature=\(signature)"
            ))
        return added
    }

    /// The query of a presigned URL (everything after `?`) for `method` on `path` at `host`,
    /// valid for `expires` seconds from `date`; only `host` is signed.
    public func presignedQuery(
        method: String, host: String, path: String, query: [(String, String)] = [], expires: Int, date: Date
    ) -> String {
        let (stamp, day) = Self.stamps(date)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        var parameters =
            query + [
                ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", "\(credentials.accessKey)/\(scope)"),
                ("X-Amz-Date", stamp), ("X-Amz-Expires", "\(expires)"), ("X-Amz-SignedHeaders", "host"),
            ]
        if let token = credentials.sessionToken { parameters.append(("X-Amz-Security-Token", token)) }
        let canonical = [
            method, Self.encodedPath(path), Self.canonicalQuery(parameters), "host:\(Self.trimmed(host))\n", "host",
            Self.unsignedPayload,
        ].joined(separator: "\n")
        let signature = self.signature(canonical: canonical, stamp: stamp, day: day, scope: scope)
        return Self.canonicalQuery(parameters) + "&X-Amz-Signature=" + signature
    }

    func signature(canonical: String, stamp: String, day: String, scope: String) -> String {
        let digest = SHA256.hash(data: Data(canonical.utf8)).lowercaseHex
        let toSign = "AWS4-HMAC-SHA256\n\(stamp)\n\(scope)\n\(digest)"
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return Data(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: key)).lowercaseHex
    }

    /// `20130524T000000Z` and `20130524`, in UTC.
    static func stamps(_ date: Date) -> (String, String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d%02d%02d", c.year!, c.month!, c.day!)
        return (day + String(format: "T%02d%02d%02dZ", c.hour!, c.minute!, c.second!), day)
    }

    /// Header values with surrounding spaces removed and inner runs of spaces made one.
    static func trimmed(_ value: String) -> String {
        value.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true)
            .joined(separator: " ")
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters (and `/` in paths).
    public static func encoded(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: "/") where keepSlash: out.append("/")
            default: out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func encodedPath(_ path: String) -> String {
        encoded(path.hasPrefix("/") ? path : "/" + path, keepSlash: true)
    }

    static func canonicalQuery(_ query: [(String, String)]) -> String {
        let pairs: [(name: String, value: String)] = query.map { (encoded($0.0), encoded($0.1)) }
        let sorted = pairs.sorted { left, right in
            left.name == right.name ? left.value < right.value : left.name < right.name
        }
        return sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }
}
