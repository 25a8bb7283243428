import Foundation
import HTTPTypes
import Hummingbird
import IrisCore

/// Finds the client's address for the per-client limits (sign-in failures, uploads): the
/// socket's peer, unless the peer is one of `http.trusted_proxies`. Then `X-Forwarded-For`
/// is read from its right end, where the trusted proxy appended what it saw: the first
/// address that is not itself a trusted proxy is the client. Anyone else's
/// `X-Forwarded-For` is ignored, since a client can write whatever it likes there.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = IrisRequestContext

    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    let trustedProxies: [IPNetwork]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard !trustedProxies.isEmpty, let peer = context.remoteAddress?.ipAddress.flatMap(IPAddress.init),
            isTrusted(peer)
        else {
            return try await next(request, context)
        }
        var context = context
        context.clientAddress = client(forwardedFor: request.headers[values: Self.forwardedFor])
        return try await next(request, context)
    }

    /// The client named by the `X-Forwarded-For` fields (several fields read as one list), or
    /// nil (the peer stands) when there is none or an entry is not an address.
    func client(forwardedFor fields: [String]) -> String? {
        let entries = fields.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        var leftmost: IPAddress?
        for entry in entries.reversed() {
            // A garbled entry: what lies to its left cannot be trusted either.
            guard let address = IPAddress(entry) else { return leftmost.map(\.description) }
            if !isTrusted(address) { return address.description }
            leftmost = address
        }
        return leftmost?.description
    }

    private func isTrusted(_ address: IPAddress) -> Bool {
        let candidates = [address] + (address.mappedIPv4.map { [$0] } ?? [])
        return candidates.contains { candidate in trustedProxies.contains { $0.contains(candidate) } }
    }
}
