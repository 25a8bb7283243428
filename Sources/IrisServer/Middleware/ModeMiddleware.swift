import HTTPTypes
public import Hummingbird
import IrisCore
import IrisServices

/// Applies the server mode: in read-only mode every write is refused with 503 (signing in
/// and out stay possible, so people can still read); in every mode other than normal the
/// response says which (`Iris-Mode`), for API clients as the page banner says it for people.
public struct ModeMiddleware: RouterMiddleware {
    public typealias Context = IrisRequestContext

    let mode: ServerMode

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        if mode == .readOnly && !AuthMiddleware.isSafe(request.method)
            && !AuthMiddleware.formPosts.contains(request.uri.path)
        {
            throw Problem.readOnly("this Iris instance is in read-only mode: nothing can be changed now")
        }
        var response = try await next(request, context)
        if mode != .normal { response.headers[HTTPField.Name("Iris-Mode")!] = mode.rawValue }
        return response
    }
}
