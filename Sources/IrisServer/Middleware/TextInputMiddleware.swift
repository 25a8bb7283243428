import Foundation
public import Hummingbird
import IrisCore
import IrisServices

/// Refuses query parameters that hold U+0000 (NUL). PostgreSQL cannot store or compare text
/// with NUL in it and answers such a query with an error, which would reach the caller as a
/// 500; SQLite would keep the text cut short. No Iris parameter has a use for it, so the
/// request is a 400 naming the parameter, before anything reads the database. (JSON bodies
/// are checked the same way by `IrisJSONDecoder`.)
public struct TextInputMiddleware: RouterMiddleware {
    public typealias Context = IrisRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        for (name, value) in request.uri.queryParameters where name.contains("\u{0}") || value.contains("\u{0}") {
            let field = String(name).replacingOccurrences(of: "\u{0}", with: "\\0")
            throw Self.refusal("the query parameter \(field)", field: field)
        }
        return try await next(request, context)
    }

    /// The 400 for text holding NUL, wherever it came in (query, JSON body, form field).
    static func refusal(_ place: String, field: String?) -> Problem {
        Problem.badRequest("\(place) holds a NUL character (U+0000), which Iris does not accept in text", field: field)
    }
}
