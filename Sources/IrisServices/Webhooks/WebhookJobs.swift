public import AsyncHTTPClient
import Crypto
public import Foundation
public import IrisCore
public import IrisStore
import NIOCore
import NIOHTTP1
import NIOPosix

/// Sends webhook requests, refusing any address a server-side request must not reach.
///
/// The SSRF guard: only `http` and `https`; the host is resolved here and every address
/// it resolves to must be public (not loopback, private, link-local, unique-local,
/// CGNAT, multicast or reserved) unless it lies in `webhooks.allow_networks`. For
/// `http` the request then goes to the checked address itself (the `Host` header keeps
/// the name), so a second, different DNS answer cannot redirect it; for `https` the
/// certificate must match the name, which a rebinding attacker's internal target cannot
/// present. Redirects are not followed blindly: each `Location` is checked the same way
/// (at most 3 hops).
public struct WebhookSender: Sendable {
    public init(client: HTTPClient, allowNetworks: [IPNetwork], timeout: Double) {
        self.client = client
        self.allowNetworks = allowNetworks
        self.timeout = timeout
    }

    public let client: HTTPClient
    public let allowNetworks: [IPNetwork]
    public let timeout: Double

    public static let maxRedirects = 3

    public struct Refusal: Error, CustomStringConvertible {
        public init(description: String) {
            self.description = description
        }

        public let description: String
    }

    public struct Response: Sendable {
        public init(status: Int, excerpt: String, finalURL: String) {
            self.status = status
            self.excerpt = excerpt
            self.finalURL = finalURL
        }

        public var status: Int
        public var excerpt: String
        public var finalURL: String
    }

    /// Checks a URL before anything is sent: scheme, host, and every resolved address.
    public func check(_ text: String) async throws -> (url: URL, addresses: [IPAddress]) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else { throw Refusal(description: "\(text) is not an http:// or https:// URL with a host") }
        if url.user != nil || url.password != nil {
            throw Refusal(description: "webhook URLs may not carry a user name or password")
        }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let addresses: [IPAddress]
        if let literal = IPAddress(bare) {
            addresses = [literal]
        } else {
            addresses = try await Self.resolve(bare, port: url.port ?? (scheme == "https" ? 443 : 80))
        }
        guard !addresses.isEmpty else { throw Refusal(description: "\(host) does not resolve to any address") }
        for address in addresses where address.isInternal && !allowNetworks.contains(where: { $0.contains(address) }) {
            throw Refusal(
                description:
                    "\(host) resolves to \(address), a private, loopback or link-local address; an administrator can allow it with webhooks.allow_networks"
            )
        }
        return (url, addresses)
    }

    /// POSTs `body` to `url`, following checked redirects.
    public func post(_ text: String, body: Data, headers: [(String, String)]) async throws -> Response {
        var target = text
        for _ in 0...Self.maxRedirects {
            let (url, addresses) = try await check(target)
            var request = HTTPClientRequest(url: Self.pinned(url, to: addresses[0]))
            request.method = .POST
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if url.scheme?.lowercased() == "http", let host = url.host {
                request.headers.replaceOrAdd(name: "Host", value: url.port.map { "\(host):\($0)" } ?? host)
            }
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            let status = Int(response.status.code)
            if (300..<400).contains(status), [301, 302, 303, 307, 308].contains(status),
                let location = response.headers.first(name: "Location")
            {
                guard let next = URL(string: location, relativeTo: url)?.absoluteString else {
                    throw Refusal(description: "redirect to an unreadable location \(location)")
                }
                target = next
                continue
            }
            var collected = try await response.body.collect(upTo: 64 * 1024)
            let excerpt = collected.readString(length: min(collected.readableBytes, 200)) ?? ""
            return Response(status: status, excerpt: excerpt, finalURL: target)
        }
        throw Refusal(description: "more than \(Self.maxRedirects) redirects")
    }

    /// For http, the URL with its host replaced by the checked address.
    public static func pinned(_ url: URL, to address: IPAddress) -> String {
        guard url.scheme?.lowercased() == "http",
            var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        else {
            return url.absoluteString
        }
        components.host = address.bytes.count == 16 ? "[\(address)]" : address.description
        return components.string ?? url.absoluteString
    }

    public static func resolve(_ host: String, port: Int) async throws -> [IPAddress] {
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &list)
            guard status == 0, let first = list else {
                throw Refusal(description: "\(host) cannot be resolved: \(String(cString: gai_strerror(status)))")
            }
            defer { freeaddrinfo(first) }
            var addresses: [IPAddress] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let entry = cursor {
                if let raw = entry.pointee.ai_addr {
                    if entry.pointee.ai_family == AF_INET {
                        let bytes = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                            withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
                        }
                        if let address = IPAddress(bytes: bytes) { addresses.append(address) }
                    } else if entry.pointee.ai_family == AF_INET6 {
                        let bytes = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                            withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                        }
                        if let address = IPAddress(bytes: bytes) { addresses.append(address) }
                    }
                }
                cursor = entry.pointee.ai_next
            }
            return Array(Set(addresses)).sorted { $0.description < $1.description }
        }
    }
}

/// The event types a webhook may subscribe to: the project-scoped actions of the event log.
public enum WebhookEvents {
    public static let known = [
        "image.uploaded", "image.removed", "import.completed", "link.created", "link.revoked", "member.role_set",
        "member.removed",
        "project.updated", "webhook.created", "webhook.deleted", "job.dead", "job.failed", "job.cancelled",
        "job.retried",
    ]
}

/// `webhook.deliver`: POSTs one event to one webhook, signed.
///
/// Headers: `X-Iris-Event` (the action), `X-Iris-Delivery` (the job id, stable across
/// retries), `X-Iris-Timestamp` (Unix seconds) and `X-Iris-Signature: sha256=<hex>`, the
/// HMAC-SHA256 of `<timestamp>.<body>` under the webhook's secret. A 2xx answer is a
/// delivery; anything else, or no answer, is retried with backoff; 410 Gone and a
/// refused address end it at once.
public struct WebhookDeliveryJob: JobHandler {
    public init(store: IrisStore, sender: WebhookSender) {
        self.store = store
        self.sender = sender
    }

    public typealias Payload = WebhookDelivery
    public static let kind = WebhookDelivery.kind

    public struct Output: Encodable, Sendable {
        public init(status: Int? = nil, skipped: String? = nil) {
            self.status = status
            self.skipped = skipped
        }

        public var status: Int?
        public var skipped: String?
    }

    public struct Body: Encodable {
        public init(
            id: Int64, type: String, projectID: Int64? = nil, subject: String? = nil, detail: [String: String],
            actor: String, createdAt: Date, webhookID: Int64, delivery: Int64, attempt: Int
        ) {
            self.id = id
            self.type = type
            self.projectID = projectID
            self.subject = subject
            self.detail = detail
            self.actor = actor
            self.createdAt = createdAt
            self.webhookID = webhookID
            self.delivery = delivery
            self.attempt = attempt
        }

        public var id: Int64
        public var type: String
        public var projectID: Int64?
        public var subject: String?
        public var detail: [String: String]
        public var actor: String
        public var createdAt: Date
        public var webhookID: Int64
        public var delivery: Int64
        public var attempt: Int

        public enum CodingKeys: String, CodingKey {
            case id, type
            case projectID = "project_id"
            case subject, detail, actor
            case createdAt = "created_at"
            case webhookID = "webhook_id"
            case delivery, attempt
        }
    }

    public let store: IrisStore
    public let sender: WebhookSender

    public static func signature(secret: String, timestamp: String, body: Data) -> String {
        var message = Data(timestamp.utf8)
        message.append(UInt8(ascii: "."))
        message.append(body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + Data(code).lowercaseHex
    }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard let hook = try await store.webhooks.find(id: payload.webhookID), hook.active else {
            return Output(status: nil, skipped: "the webhook was deleted")
        }
        guard let event = try await store.events.list(afterID: payload.eventID - 1, projectIDs: nil, limit: 1).first,
            event.id == payload.eventID
        else {
            return Output(status: nil, skipped: "the event is gone")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .iso8601
        let body = try encoder.encode(
            Body(
                id: event.id, type: event.action, projectID: event.projectID, subject: event.subject,
                detail: event.detail, actor: event.actorName,
                createdAt: event.createdAt, webhookID: hook.id, delivery: context.job.id, attempt: context.job.attempts)
        )
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let response: WebhookSender.Response
        do {
            response = try await sender.post(
                hook.url, body: body,
                headers: [
                    ("Content-Type", "application/json"), ("User-Agent", "Iris-Webhooks/1"),
                    ("X-Iris-Event", event.action),
                    ("X-Iris-Delivery", String(context.job.id)), ("X-Iris-Timestamp", timestamp),
                    ("X-Iris-Signature", Self.signature(secret: hook.secret, timestamp: timestamp, body: body)),
                ])
        } catch let refusal as WebhookSender.Refusal {
            context.note("refused: \(refusal.description)")
            throw PermanentJobFailure("delivery refused: \(refusal.description)")
        } catch {
            context.note("no response: \(error)")
            throw error
        }
        context.note("HTTP \(response.status) from \(response.finalURL)")
        switch response.status {
        case 200..<300: return Output(status: response.status, skipped: nil)
        case 410: throw PermanentJobFailure("the receiver answered 410 Gone")
        default: throw DeliveryFailure(status: response.status, excerpt: response.excerpt)
        }
    }

    public struct DeliveryFailure: Error, CustomStringConvertible {
        public init(status: Int, excerpt: String) {
            self.status = status
            self.excerpt = excerpt
        }

        public let status: Int
        public let excerpt: String
        public var description: String {
            "the receiver answered HTTP \(status)" + (excerpt.isEmpty ? "" : ": \(excerpt)")
        }
    }
}
