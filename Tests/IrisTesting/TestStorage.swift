public import AsyncHTTPClient
public import Foundation
public import IrisBlobs

/// The blob stores every storage test runs against: the disk store, and an S3 bucket when
/// `IRIS_TEST_S3_URL` names one (`make test` starts moto's S3 server with authentication
/// enforced; `scripts/s3-test-server.sh`); with `IRIS_TEST_REQUIRE_S3=1` its absence fails
/// the tests instead of skipping it.
public enum TestStorage: String, Sendable, CustomStringConvertible, CaseIterable {
    case disk, s3

    public var description: String { rawValue }

    public static var enabled: [TestStorage] {
        let environment = ProcessInfo.processInfo.environment
        let hasS3 = !(environment["IRIS_TEST_S3_URL"] ?? "").isEmpty
        return hasS3 || environment["IRIS_TEST_REQUIRE_S3"] == "1" ? [.disk, .s3] : [.disk]
    }

    public struct NotConfigured: Error, CustomStringConvertible {
        public var description: String { "IRIS_TEST_S3_URL is not set (start scripts/s3-test-server.sh)" }
    }

    /// The test bucket under a fresh prefix, so tests never see each other's objects.
    public static func location(prefix: String = "t-\(UUID().uuidString.lowercased())/", secret: String? = nil)
        throws -> S3Location
    {
        let environment = ProcessInfo.processInfo.environment
        guard let text = environment["IRIS_TEST_S3_URL"], let url = URL(string: text) else { throw NotConfigured() }
        return S3Location(
            endpoint: url, bucket: environment["IRIS_TEST_S3_BUCKET"] ?? "iris-test", region: "us-east-1",
            prefix: prefix,
            credentials: .init(
                accessKey: environment["IRIS_TEST_S3_ACCESS_KEY"] ?? "",
                secretKey: secret ?? environment["IRIS_TEST_S3_SECRET_KEY"] ?? ""))
    }

    /// A store of this kind in `folder` (S3: the test bucket, its cache in the folder), for `body`.
    public func with<T>(
        in folder: URL, partSize: Int64? = nil, _ body: (any BlobStore, ScratchSpace) async throws -> T
    ) async throws -> T {
        let scratch = try ScratchSpace(directory: folder.appendingPathComponent("tmp"))
        switch self {
        case .disk:
            return try await body(
                try DiskBlobStore(root: folder.appendingPathComponent("blobs"), scratch: scratch), scratch)
        case .s3:
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                var location = try Self.location()
                if let partSize { location.partSize = partSize }
                let store = S3BlobStore(
                    client: S3Client(location: location, http: http),
                    cache: try BlobCache(root: folder.appendingPathComponent("cache"), capacity: 1 << 30),
                    scratch: scratch)
                let result = try await body(store, scratch)
                try await http.shutdown()
                return result
            } catch {
                try? await http.shutdown()
                throw error
            }
        }
    }
}
