import Foundation
import HTTPTypes
public import Hummingbird
import IrisBlobs
public import IrisCore
import IrisServices
import IrisStore
import Logging
import NIOCore
import NIOHTTP1

/// Turns every error that reaches the edge into an `application/problem+json`
/// response (RFC 9457). Unexpected errors become a 500 whose body names no internals;
/// the details go to the log with the request id. A browser opening a page (not `/api/`,
/// `Accept: text/html`) gets the same status as a page in Iris's layout instead, saying what
/// happened and what to do (`ProblemMiddleware+Page.swift`).
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let catalog: RouteCatalog
    /// The templates error pages are drawn with; nil answers problem+json to every client.
    let pages: ServerResources?

    public init(catalog: RouteCatalog) { self.init(catalog: catalog, pages: nil) }

    init(catalog: RouteCatalog, pages: ServerResources?) {
        self.catalog = catalog
        self.pages = pages
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let redirect as SignInRedirect {
            return try redirect.response(from: request, context: context)
        } catch let problem as Problem {
            return answer(problem, to: request)
        } catch let refusal as Refusal {
            return answer(ErrorMapping.problem(refusal), to: request)
        } catch let error as StoreError {
            return answer(ErrorMapping.problem(error), to: request)
        } catch let error as BlobStoreUnavailable {
            context.logger.warning("blob store unavailable", metadata: ["error": "\(error.message)"])
            return answer(ErrorMapping.storageUnavailable, to: request)
        } catch let error as HTTPError where error.status == .notFound && context.endpointPath == "NotFound" {
            // No route matched. If the path exists for other methods, the method is what is wrong.
            let allowed = catalog.methods(matching: request.uri.path)
            guard !allowed.isEmpty else {
                return answer(
                    Problem(
                        status: 404, slug: "not-found", title: "Not Found",
                        detail: Self.detail(.notFound, request: request)), to: request)
            }
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            let problem = Problem(
                status: 405, slug: "method-not-allowed", title: "Method Not Allowed",
                detail: "\(request.method) is not allowed on \(request.uri.path); use \(allow)",
                headers: ["Allow": allow])
            return answer(problem, to: request)
        } catch let error as HTTPError {
            let problem = Problem(
                status: Int(error.status.code), slug: Self.slug(error.status), title: error.status.reasonPhrase,
                detail: error.body ?? Self.detail(error.status, request: request))
            return answer(problem, to: request, extraHeaders: error.headers)
        } catch let error as HTTPParserError {
            // The client's fault: a body shorter than its Content-Length then a half-close, or a
            // malformed chunk. Logged at info, answered 400 (if the client still listens).
            context.logger.info("the request could not be read", metadata: ["error": "\(error)"])
            let detail =
                error == .invalidEOFState
                ? "the request body ended before its declared Content-Length"
                : "the request is not valid HTTP (\(error))"
            return answer(
                Problem(status: 400, slug: "bad-request", title: "Bad Request", detail: detail), to: request)
        } catch let error as any HTTPResponseError {
            let problem = Problem(
                status: Int(error.status.code), slug: Self.slug(error.status), title: error.status.reasonPhrase,
                detail: "\(error)")
            return answer(problem, to: request)
        } catch {
            context.logger.error("request failed", metadata: ["error": .string(String(reflecting: error))])
            let problem = Problem(
                status: 500, slug: "internal-error", title: "Internal server error",
                detail: "the server failed to handle this request; the log has details under request id \(context.id)")
            return answer(problem, to: request)
        }
    }

    static func slug(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 404: "not-found"
        case 405: "method-not-allowed"
        case 413: "content-too-large"
        default: status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "-")
        }
    }

    static func detail(_ status: HTTPResponse.Status, request: Request) -> String {
        switch status.code {
        case 404: "nothing is at \(request.method) \(request.uri.path)"
        case 405: "\(request.method) is not allowed on \(request.uri.path)"
        default: status.reasonPhrase
        }
    }

    /// The problem document for `problem`, as a response.
    public static func response(_ problem: Problem, path: String, extraHeaders: HTTPFields = [:]) -> Response {
        var body: [String: String] = [
            "type": "/problems/\(problem.slug)",
            "title": problem.title,
            "detail": problem.detail,
            "instance": path,
        ]
        if let field = problem.field { body["field"] = field }
        var object: [String: Any] = body
        object["status"] = problem.status
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        return response(problem, body: data, contentType: "application/problem+json", extraHeaders: extraHeaders)
    }

    /// `body` answered with the problem's status and headers (a problem document, or a
    /// protocol's own error shape).
    static func response(_ problem: Problem, body data: Data, contentType: String, extraHeaders: HTTPFields)
        -> Response
    {
        var headers = extraHeaders
        headers[.contentType] = contentType
        headers[.contentLength] = String(data.count)
        for (name, value) in problem.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        return Response(
            status: .init(code: problem.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
