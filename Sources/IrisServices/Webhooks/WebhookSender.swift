public import AsyncHTTPClient
public import Foundation
public import IrisCore
import IrisStore
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
    public let client: HTTPClient
    public let allowNetworks: [IPNetwork]
    public let timeout: Double

    public static let maxRedirects = 3

    public struct BlockedURL: Error, CustomStringConvertible {
        public let description: String
    }

    public struct Response: Sendable {
        public var status: Int
        public var excerpt: String
        public var finalURL: String
    }

    /// Checks a URL before anything is sent: scheme, host, and every resolved address.
    public func check(_ text: String) async throws -> (url: URL, addresses: [IPAddress]) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else { throw BlockedURL(description: "\(text) is not an http:// or https:// URL with a host") }
        if url.user != nil || url.password != nil {
            throw BlockedURL(description: "webhook URLs may not carry a user name or password")
        }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let addresses: [IPAddress]
        if let literal = IPAddress(bare) {
            addresses = [literal]
        } else {
            addresses = try await Self.resolve(bare, port: url.port ?? (scheme == "https" ? 443 : 80))
        }
        guard !addresses.isEmpty else { throw BlockedURL(description: "\(host) does not resolve to any address") }
        for address in addresses where address.isInternal && !allowNetworks.contains(where: { $0.contains(address) }) {
            throw BlockedURL(
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
                    throw BlockedURL(description: "redirect to an unreadable location \(location)")
                }
                target = next
                continue
            }
            var collected = try await response.body.collect(upTo: 64 * 1024)
            let excerpt = collected.readString(length: min(collected.readableBytes, 200)) ?? ""
            return Response(status: status, excerpt: excerpt, finalURL: target)
        }
        throw BlockedURL(description: "more than \(Self.maxRedirects) redirects")
    }

    /// GETs `text` under the same guard (every hop checked), answering at most `limit` bytes
    /// of a 2xx body; a refusal naming the status otherwise. Used for images a Label Studio
    /// task names (`LabelStudioBackend`).
    public func download(_ text: String, limit: Int) async throws -> Data {
        var target = text
        for _ in 0...Self.maxRedirects {
            let (url, addresses) = try await check(target)
            var request = HTTPClientRequest(url: Self.pinned(url, to: addresses[0]))
            request.method = .GET
            if url.scheme?.lowercased() == "http", let host = url.host {
                request.headers.replaceOrAdd(name: "Host", value: url.port.map { "\(host):\($0)" } ?? host)
            }
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            let status = Int(response.status.code)
            if [301, 302, 303, 307, 308].contains(status), let location = response.headers.first(name: "Location") {
                guard let next = URL(string: location, relativeTo: url)?.absoluteString else {
                    throw BlockedURL(description: "redirect to an unreadable location \(location)")
                }
                target = next
                continue
            }
            guard (200..<300).contains(status) else {
                throw BlockedURL(description: "\(url.host ?? "the server") answered HTTP \(status)")
            }
            var collected = try await response.body.collect(upTo: limit)
            return Data(collected.readBytes(length: collected.readableBytes) ?? [])
        }
        throw BlockedURL(description: "more than \(Self.maxRedirects) redirects")
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
                throw BlockedURL(description: "\(host) cannot be resolved: \(String(cString: gai_strerror(status)))")
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
