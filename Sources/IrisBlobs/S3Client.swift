public import AsyncHTTPClient
import Crypto
public import Foundation
import IrisCore
import NIOCore
import NIOHTTP1

/// Where an S3 bucket is and how to reach it.
public struct S3Location: Sendable {
    /// `http(s)://host[:port]`: an S3 service, MinIO, Garage, Ceph or moto.
    public var endpoint: URL
    public var bucket: String
    public var region: String
    /// Prepended to every key (`iris/` keeps Iris's objects apart in a shared bucket).
    public var prefix: String
    /// `endpoint/bucket/key` (true, what self-hosted servers want) or `bucket.endpoint/key`.
    public var pathStyle: Bool
    public var credentials: SigV4Signer.Credentials
    /// Seconds one request may take before it is retried (and, after the last attempt, failed).
    public var timeout: Double = 30
    /// Where browsers reach the same S3 server (`storage.s3.public_url`): presigned URLs
    /// handed to them name this scheme and host. nil: bytes stream through Iris.
    public var publicEndpoint: URL?
    /// Originals larger than this go up in parts of this size (at least 5 MiB, S3's minimum).
    public var partSize: Int64 = 8 << 20

    public init(
        endpoint: URL, bucket: String, region: String, prefix: String = "", pathStyle: Bool = true,
        credentials: SigV4Signer.Credentials
    ) {
        (self.endpoint, self.bucket, self.region, self.prefix) = (endpoint, bucket, region, prefix)
        (self.pathStyle, self.credentials) = (pathStyle, credentials)
    }

    /// The host header and path of an object (or of the bucket, for a nil key).
    func address(of key: String?) -> (host: String, path: String, base: String) {
        let scheme = endpoint.scheme ?? "http"
        var host = endpoint.host ?? "localhost"
        if let port = endpoint.port { host += ":\(port)" }
        let objectPath = key.map { "/" + prefix + $0 } ?? "/"
        if pathStyle {
            return (host, "/\(bucket)" + (key == nil ? "" : objectPath), "\(scheme)://\(host)")
        }
        return ("\(bucket).\(host)", objectPath, "\(scheme)://\(bucket).\(host)")
    }
}

/// An S3 request that failed in a way the caller should hear about.
public struct S3Failure: Error, CustomStringConvertible, Sendable {
    /// The HTTP status (0: no answer at all).
    public var status: Int
    /// S3's error code (`NoSuchBucket`, `SignatureDoesNotMatch`, …) when it sent one.
    public var code: String?
    public var message: String

    public var description: String { message }
    /// Worth another attempt: no answer, a timeout, or a server-side error.
    var transient: Bool { status == 0 || status >= 500 || status == 408 || code == "SlowDown" }
}

/// The S3 operations Iris uses, signed with `SigV4Signer`, each retried with backoff on
/// timeouts and 5xx answers (every attempt signed afresh).
public struct S3Client: Sendable {
    public let location: S3Location
    let signer: SigV4Signer
    let http: HTTPClient
    /// Attempts per request; the waits between them double from 0.25 s.
    public var attempts = 4

    public init(location: S3Location, http: HTTPClient) {
        self.location = location
        self.http = http
        signer = SigV4Signer(credentials: location.credentials, region: location.region)
    }

    /// What a request sends.
    enum Body: Sendable {
        case none
        case bytes(Data)
        /// `length` bytes of a file from `offset`, read as they are sent.
        case file(URL, offset: Int64, length: Int64)
    }

    struct Answer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
    }

    /// Sends one request (retrying transient failures) and answers when its status is in `accept`;
    /// any other status is an `S3Failure` with S3's code and message. The body is read up to
    /// `maxBody` bytes, or streamed into `download` when given.
    func send(
        _ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers extra: [(String, String)] = [],
        body: Body = .none, payloadHash: String? = nil, accept: Set<Int> = [200], maxBody: Int = 16 << 20,
        download: URL? = nil
    ) async throws -> Answer {
        var lastFailure: S3Failure?
        for attempt in 0..<max(1, attempts) {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(250 << (attempt - 1))) }
            do {
                return try await once(
                    method, key: key, query: query, headers: extra, body: body, payloadHash: payloadHash,
                    accept: accept, maxBody: maxBody, download: download)
            } catch let failure as S3Failure where failure.transient {
                lastFailure = failure
            }
        }
        throw lastFailure ?? S3Failure(status: 0, code: nil, message: "no answer")
    }

    private func once(
        _ method: HTTPMethod, key: String?, query: [(String, String)], headers extra: [(String, String)], body: Body,
        payloadHash: String?, accept: Set<Int>, maxBody: Int, download: URL?
    ) async throws -> Answer {
        let (host, path, base) = location.address(of: key)
        let hash: String
        var request: HTTPClientRequest
        let queryText = SigV4Signer.canonicalQuery(query)
        request = HTTPClientRequest(
            url: base + SigV4Signer.encodedPath(path) + (queryText.isEmpty ? "" : "?" + queryText))
        request.method = method
        switch body {
        case .none:
            hash = payloadHash ?? SigV4Signer.emptyPayload
        case .bytes(let data):
            hash = payloadHash ?? SHA256.hash(data: data).lowercaseHex
            request.body = .bytes(ByteBuffer(bytes: data))
            request.headers.add(name: "content-length", value: "\(data.count)")
        case .file(let url, let offset, let length):
            hash = payloadHash ?? SigV4Signer.unsignedPayload
            request.body = .stream(FileChunks(url: url, offset: offset, length: length), length: .known(Int(length)))
        }
        var signed = extra + [("host", host)]
        if case .bytes(let data) = body { signed.append(("content-length", "\(data.count)")) }
        for (name, value) in extra { request.headers.replaceOrAdd(name: name, value: value) }
        for (name, value) in signer.sign(
            method: method.rawValue, path: path, query: query, headers: signed, payloadHash: hash, date: Date())
        {
            request.headers.replaceOrAdd(name: name, value: value)
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .milliseconds(Int64(location.timeout * 1000)))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw S3Failure(status: 0, code: "Timeout", message: "no answer within \(Int(location.timeout)) s")
        } catch let failure as S3Failure {
            throw failure
        } catch {
            throw S3Failure(status: 0, code: nil, message: "cannot reach \(location.endpoint.absoluteString): \(error)")
        }
        let status = Int(response.status.code)
        if accept.contains(status), let download {
            try await Self.write(response.body, to: download)
            return Answer(status: status, headers: response.headers, body: Data())
        }
        var collected = Data()
        do {
            for try await chunk in response.body {
                if collected.count + chunk.readableBytes > maxBody {
                    throw S3Failure(status: status, code: nil, message: "the answer is larger than \(maxBody) bytes")
                }
                collected.append(contentsOf: chunk.readableBytesView)
            }
        } catch let failure as S3Failure {
            throw failure
        } catch {
            throw S3Failure(status: 0, code: nil, message: "the answer was cut off: \(error)")
        }
        guard accept.contains(status) else {
            let text = String(decoding: collected, as: UTF8.self)
            let code = XMLFields.first("Code", in: text)
            let message = XMLFields.first("Message", in: text) ?? response.status.reasonPhrase
            throw S3Failure(
                status: status, code: code,
                message: "S3 answered \(status)\(code.map { " \($0)" } ?? ""): \(message)")
        }
        return Answer(status: status, headers: response.headers, body: collected)
    }

    private static func write(_ body: HTTPClientResponse.Body, to file: URL) async throws {
        FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        do {
            for try await chunk in body { try handle.write(contentsOf: Data(chunk.readableBytesView)) }
        } catch {
            throw S3Failure(status: 0, code: nil, message: "the download was cut off: \(error)")
        }
    }

    // MARK: - Operations

    /// The object's size, or nil when there is none.
    func head(_ key: String) async throws -> Int64? {
        let answer = try await send(.HEAD, key: key, accept: [200, 404])
        guard answer.status == 200 else { return nil }
        return answer.headers.first(name: "content-length").flatMap { Int64($0) }
    }

    /// Writes bytes unless the key exists (`If-None-Match: *`; a server that ignores it
    /// rewrites the same bytes: keys are content-addressed).
    func put(_ key: String, body: Body, payloadHash: String?) async throws {
        _ = try await send(
            .PUT, key: key, headers: [("if-none-match", "*")], body: body, payloadHash: payloadHash,
            accept: [200, 412])
    }

    /// A file in parts of `location.partSize`; on any failure the upload is aborted so no part is left.
    func putMultipart(_ key: String, file: URL, size: Int64) async throws {
        let created = try await send(.POST, key: key, query: [("uploads", "")])
        guard let upload = XMLFields.first("UploadId", in: String(decoding: created.body, as: UTF8.self)) else {
            throw S3Failure(status: created.status, code: nil, message: "S3 started a multipart upload without an id")
        }
        do {
            var parts: [(Int, String)] = []
            var offset: Int64 = 0
            var number = 1
            while offset < size {
                let length = min(location.partSize, size - offset)
                let answer = try await send(
                    .PUT, key: key, query: [("partNumber", "\(number)"), ("uploadId", upload)],
                    body: .file(file, offset: offset, length: length))
                guard let tag = answer.headers.first(name: "etag") else {
                    throw S3Failure(status: answer.status, code: nil, message: "S3 took part \(number) without an ETag")
                }
                parts.append((number, tag))
                offset += length
                number += 1
            }
            let list = parts.map {
                "<Part><PartNumber>\($0.0)</PartNumber><ETag>\(XMLFields.escaped($0.1))</ETag></Part>"
            }
            let document = Data("<CompleteMultipartUpload>\(list.joined())</CompleteMultipartUpload>".utf8)
            let done = try await send(.POST, key: key, query: [("uploadId", upload)], body: .bytes(document))
            // S3 may answer 200 with an error document when completing.
            if let code = XMLFields.first("Code", in: String(decoding: done.body, as: UTF8.self)) {
                throw S3Failure(status: 200, code: code, message: "S3 did not complete the upload: \(code)")
            }
        } catch {
            _ = try? await send(.DELETE, key: key, query: [("uploadId", upload)], accept: [200, 204, 404])
            throw error
        }
    }

    /// Makes the bucket (in us-east-1's form: no location body); one that is already ours is fine.
    public func createBucket() async throws {
        _ = try await send(.PUT, key: nil, accept: [200, 409])
    }

    /// Removes the (empty) bucket; a missing one is fine.
    public func deleteBucket() async throws {
        _ = try await send(.DELETE, key: nil, accept: [200, 204, 404])
    }

    func delete(_ key: String) async throws {
        _ = try await send(.DELETE, key: key, accept: [200, 204, 404])
    }

    /// Multipart uploads under the location's prefix begun before `date` (their key, without
    /// the prefix, and id).
    func unfinishedUploads(startedBefore date: Date) async throws -> [(key: String, upload: String)] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        var found: [(key: String, upload: String)] = []
        var marker: (key: String, upload: String)?
        repeat {
            var query = [("uploads", ""), ("prefix", location.prefix)]
            if let marker { query += [("key-marker", marker.key), ("upload-id-marker", marker.upload)] }
            let text = String(decoding: try await send(.GET, key: nil, query: query).body, as: UTF8.self)
            for entry in XMLFields.all("Upload", in: text) {
                guard let key = XMLFields.first("Key", in: entry).map(XMLFields.unescaped),
                    let upload = XMLFields.first("UploadId", in: entry).map(XMLFields.unescaped)
                else { continue }
                let started = XMLFields.first("Initiated", in: entry).flatMap {
                    formatter.date(from: $0) ?? plain.date(from: $0)
                }
                if (started ?? .distantPast) < date, key.hasPrefix(location.prefix) {
                    found.append((String(key.dropFirst(location.prefix.count)), upload))
                }
            }
            marker = nil
            if XMLFields.first("IsTruncated", in: text) == "true",
                let key = XMLFields.first("NextKeyMarker", in: text).map(XMLFields.unescaped),
                let upload = XMLFields.first("NextUploadIdMarker", in: text).map(XMLFields.unescaped)
            {
                marker = (key, upload)
            }
        } while marker != nil && found.count < 100_000
        return found
    }

    /// Aborts one multipart upload, dropping its parts.
    func abort(_ key: String, upload: String) async throws {
        _ = try await send(.DELETE, key: key, query: [("uploadId", upload)], accept: [200, 204, 404])
    }

    /// Keys under `prefix` (the location's own prefix left off), for tools and tests.
    public func listKeys(under prefix: String) async throws -> [String] { try await list(under: prefix).map(\.key) }

    /// Removes one object by its key (the location's prefix is added).
    public func deleteObject(_ key: String) async throws { try await delete(key) }

    /// Keys under `prefix` (without the location's prefix) with their last-modified times.
    func list(under prefix: String) async throws -> [(key: String, modified: Date?, size: Int64)] {
        var found: [(String, Date?, Int64)] = []
        var token: String?
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        repeat {
            var query = [("list-type", "2"), ("prefix", location.prefix + prefix), ("max-keys", "1000")]
            if let token { query.append(("continuation-token", token)) }
            let answer = try await send(.GET, key: nil, query: query)
            let text = String(decoding: answer.body, as: UTF8.self)
            for entry in XMLFields.all("Contents", in: text) {
                guard let key = XMLFields.first("Key", in: entry).map(XMLFields.unescaped) else { continue }
                let modified = XMLFields.first("LastModified", in: entry).flatMap {
                    formatter.date(from: $0) ?? plain.date(from: $0)
                }
                let size = XMLFields.first("Size", in: entry).flatMap { Int64($0) } ?? 0
                found.append((String(key.dropFirst(location.prefix.count)), modified, size))
            }
            token =
                XMLFields.first("IsTruncated", in: text) == "true"
                ? XMLFields.first("NextContinuationToken", in: text).map(XMLFields.unescaped) : nil
        } while token != nil && found.count < 10_000_000
        return found
    }

    /// A URL that lets anyone holding it GET the object from `date` for `seconds`, at
    /// `location.publicEndpoint` when one is set. `query` adds S3's `response-*` overrides
    /// (they are signed with the rest).
    public func presignedURL(_ key: String, seconds: Int, date: Date = Date(), query: [(String, String)] = []) -> URL? {
        let (host, path, base) = location.address(of: key)
        var chosenHost = host
        var chosenBase = base
        if let publicBase = location.publicEndpoint, let publicHost = publicBase.host {
            chosenHost = publicHost + (publicBase.port.map { ":\($0)" } ?? "")
            if !location.pathStyle { chosenHost = "\(location.bucket).\(chosenHost)" }
            chosenBase = "\(publicBase.scheme ?? "https")://\(chosenHost)"
        }
        let signed = signer.presignedQuery(
            method: "GET", host: chosenHost, path: path, query: query, expires: seconds, date: date)
        return URL(string: chosenBase + SigV4Signer.encodedPath(path) + "?" + signed)
    }
}

/// A file's bytes from an offset, in 1 MiB buffers, for a streamed request body.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let url: URL
    let offset: Int64
    let length: Int64

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        var left: Int64

        mutating func next() async throws -> ByteBuffer? {
            guard left > 0, let handle else {
                try? handle?.close()
                return nil
            }
            let data = try handle.read(upToCount: Int(Swift.min(left, 1 << 20))) ?? Data()
            guard !data.isEmpty else {
                throw S3Failure(status: 0, code: nil, message: "the file to upload ended early")
            }
            left -= Int64(data.count)
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        let handle = try? FileHandle(forReadingFrom: url)
        try? handle?.seek(toOffset: UInt64(offset))
        return AsyncIterator(handle: handle, left: handle == nil ? 0 : length)
    }
}

/// The few fields Iris reads from S3's XML answers: flat elements found by name.
enum XMLFields {
    static func first(_ name: String, in text: String) -> String? { all(name, in: text).first }

    static func all(_ name: String, in text: String) -> [String] {
        var found: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "<\(name)>"), let close = rest[open.upperBound...].range(of: "</\(name)>") {
            found.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return found
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func unescaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
