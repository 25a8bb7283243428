import Foundation
public import Hummingbird

/// Reads every query string as `application/x-www-form-urlencoded`, where `+` is a space.
///
/// An HTML form with `method="get"` (the search box in every page's header, the gallery's
/// filter) sends "something to eat" as `q=something+to+eat`. Hummingbird's
/// `URI.queryParameters` percent-decodes values but keeps `+`, so a search for three words
/// became one for `something+to+eat`. Rewriting `+` as `%20` in the query before anything
/// reads it fixes every parameter of every route in one place; a literal plus arrives as
/// `%2B`, as form encoding and every HTTP client send it, and is still read as `+`.
public struct FormQueryMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let path = request.head.path, let decoded = Self.formDecoded(path) else {
            return try await next(request, context)
        }
        var head = request.head
        head.path = decoded
        return try await next(Request(head: head, body: request.body), context)
    }

    /// `path` with each `+` of its query as `%20`, or nil when its query holds no `+`.
    static func formDecoded(_ path: String) -> String? {
        guard let mark = path.firstIndex(of: "?") else { return nil }
        let query = path[path.index(after: mark)...]
        guard query.contains("+") else { return nil }
        return path[...mark] + query.replacingOccurrences(of: "+", with: "%20")
    }
}
