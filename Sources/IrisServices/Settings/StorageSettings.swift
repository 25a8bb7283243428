public import Foundation
public import IrisBlobs
public import IrisCore

/// Where blobs are kept (`storage.*`).
public struct StorageSettings: Sendable {
    public enum Backend: String, Sendable { case disk, s3 }

    public var backend: Backend
    /// Set when `backend` is `.s3` (or an endpoint is configured).
    public var s3: S3Location?
    /// nil: `data.dir/cache`.
    public var cacheDirectory: URL?
    public var cacheBytes: Int64

    public init(
        backend: Backend = .disk, s3: S3Location? = nil, cacheDirectory: URL? = nil, cacheBytes: Int64 = 2 << 30
    ) {
        (self.backend, self.s3, self.cacheDirectory, self.cacheBytes) = (backend, s3, cacheDirectory, cacheBytes)
    }

    public init(_ reader: ConfigurationReader) throws {
        let name = reader.string(.storageBackend)
        guard let backend = Backend(rawValue: name) else {
            throw ConfigurationError(
                "setting storage.backend must be disk or s3, not \(name)", setting: "storage.backend")
        }
        let cache = reader.string(.cacheDirectory)
        self.init(
            backend: backend,
            // Read whenever an endpoint is set, so `iris storage migrate --to s3` finds its target.
            s3: backend == .s3 || !reader.string(.s3Endpoint).isEmpty ? try Self.location(reader) : nil,
            cacheDirectory: cache.isEmpty ? nil : URL(fileURLWithPath: cache).standardizedFileURL,
            cacheBytes: Int64(try reader.int(.cacheMaxMB, in: 16...16_777_216)) << 20)
    }

    static func location(_ reader: ConfigurationReader) throws -> S3Location {
        let endpointText = reader.string(.s3Endpoint)
        guard let endpoint = URL(string: endpointText), let scheme = endpoint.scheme,
            ["http", "https"].contains(scheme),
            endpoint.host != nil
        else {
            throw ConfigurationError(
                "setting storage.s3.endpoint must be an http or https URL (e.g. http://127.0.0.1:9000), not \"\(endpointText)\"",
                setting: "storage.s3.endpoint")
        }
        let bucket = reader.string(.s3Bucket)
        guard (3...63).contains(bucket.count),
            bucket.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." })
        else {
            throw ConfigurationError(
                "setting storage.s3.bucket must name a bucket (3 to 63 lower-case letters, digits, dots and dashes), not \"\(bucket)\"",
                setting: "storage.s3.bucket")
        }
        let accessKey = Self.value(reader, .s3AccessKey, fallback: "AWS_ACCESS_KEY_ID")
        let secretKey = Self.value(reader, .s3SecretKey, fallback: "AWS_SECRET_ACCESS_KEY")
        guard !accessKey.isEmpty, !secretKey.isEmpty else {
            throw ConfigurationError(
                "storage.backend s3 needs credentials: set storage.s3.access_key and storage.s3.secret_key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
                setting: accessKey.isEmpty ? "storage.s3.access_key" : "storage.s3.secret_key")
        }
        var prefix = reader.string(.s3Prefix)
        if !prefix.isEmpty, !prefix.hasSuffix("/") { prefix += "/" }
        var location = S3Location(
            endpoint: endpoint, bucket: bucket, region: reader.string(.s3Region), prefix: prefix,
            pathStyle: try IrisSettings.bool(reader, .s3PathStyle),
            credentials: .init(
                accessKey: accessKey, secretKey: secretKey,
                sessionToken: reader.environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }))
        location.timeout = try reader.double(.s3Timeout, in: 1...600)
        let publicText = reader.string(.s3PublicURL)
        if !publicText.isEmpty {
            guard let url = URL(string: publicText), let scheme = url.scheme, ["http", "https"].contains(scheme),
                url.host != nil, url.path.isEmpty || url.path == "/", url.query == nil
            else {
                throw ConfigurationError(
                    "setting storage.s3.public_url must be an http or https address with no path (e.g. https://s3.example.org), not \"\(publicText.prefix(200))\"",
                    setting: "storage.s3.public_url")
            }
            location.publicEndpoint = url
        }
        return location
    }

    static func value(_ reader: ConfigurationReader, _ key: ConfigurationKey, fallback: String) -> String {
        let own = reader.string(key)
        return own.isEmpty ? reader.environment[fallback] ?? "" : own
    }
}
