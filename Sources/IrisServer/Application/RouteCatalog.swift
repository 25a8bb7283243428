import Foundation
public import HTTPTypes
import Hummingbird
import IrisServices
import NIOConcurrencyHelpers

/// Every route Iris serves, as (method, pattern), recorded as routes are registered.
///
/// Hummingbird's router does not list its routes, and Iris needs them: to answer 405
/// with `Allow` for a known path, and (with accounts) so the authorization matrix test
/// walks every route without a hand-kept list.
public final class RouteCatalog: Sendable {
    public struct Route: Sendable, Hashable, CustomStringConvertible {
        public let method: HTTPRequest.Method
        /// Path pattern with `{name}` parameters, e.g. `/api/v1/projects/{id}`.
        public let pattern: String
        /// Who may call it.
        public let access: Access
        public var description: String { "\(method) \(pattern)" }
    }

    private let entries = NIOLockedValueBox<[Route]>([])

    public init() {}

    public var routes: [Route] { entries.withLockedValue { $0 } }

    func add(_ method: HTTPRequest.Method, _ pattern: String, _ access: Access) {
        entries.withLockedValue { $0.append(Route(method: method, pattern: pattern, access: access)) }
    }

    /// The methods registered for patterns that match `path`.
    /// The methods the router serves `path` with. Like the router, a literal segment wins over
    /// a parameter: `/projects/1/images/check` is the check's path alone, not also an image's.
    func methods(matching path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let matching = routes.compactMap { route -> (literal: [Bool], method: HTTPRequest.Method)? in
            let pattern = route.pattern.split(separator: "/", omittingEmptySubsequences: true)
            guard pattern.count == segments.count,
                zip(pattern, segments).allSatisfy({ expected, actual in
                    expected.hasPrefix("{") || expected == actual
                })
            else { return nil }
            return (pattern.map { !$0.hasPrefix("{") }, route.method)
        }
        // The most specific: literal where the others have a parameter, first difference first.
        guard let best = matching.map(\.literal).max(by: { Self.lessSpecific($0, than: $1) }) else { return [] }
        return matching.filter { $0.literal == best }.map(\.method)
    }

    static func lessSpecific(_ a: [Bool], than b: [Bool]) -> Bool {
        for (x, y) in zip(a, b) where x != y { return !x && y }
        return false
    }
}

/// Registers routes on a router or group, each with the `Access` it requires, checks
/// that access before the handler runs, and records the route in the catalog.
struct Routes<Methods: RouterMethods> where Methods.Context == IrisRequestContext {
    let methods: Methods
    let prefix: String
    let catalog: RouteCatalog
    let guardian: AccessGuard

    typealias Handler<Output: ResponseGenerator> = @Sendable (Request, IrisRequestContext) async throws -> Output

    func get<Output: ResponseGenerator>(_ path: String, _ access: Access, use handler: @escaping Handler<Output>) {
        add(.get, path, access, handler)
    }

    func post<Output: ResponseGenerator>(_ path: String, _ access: Access, use handler: @escaping Handler<Output>) {
        add(.post, path, access, handler)
    }

    func put<Output: ResponseGenerator>(_ path: String, _ access: Access, use handler: @escaping Handler<Output>) {
        add(.put, path, access, handler)
    }

    func patch<Output: ResponseGenerator>(_ path: String, _ access: Access, use handler: @escaping Handler<Output>) {
        add(.patch, path, access, handler)
    }

    func delete<Output: ResponseGenerator>(_ path: String, _ access: Access, use handler: @escaping Handler<Output>) {
        add(.delete, path, access, handler)
    }

    private func add<Output: ResponseGenerator>(
        _ method: HTTPRequest.Method, _ path: String, _ access: Access, _ handler: @escaping Handler<Output>
    ) {
        let guardian = self.guardian
        methods.on(RouterPath(path), method: method) { request, context in
            try await guardian.check(access, request, context)
            return try await handler(request, context)
        }
        let full =
            "/"
            + [prefix, path].map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "/")) }.filter { !$0.isEmpty }
            .joined(separator: "/")
        catalog.add(method, full, access)
    }
}
