import Foundation
import HTTPTypes
import Hummingbird
import IrisCore
import NIOCore

extension ProblemMiddleware {
    /// The answer for `problem`: a page for a browser that opened a page, problem+json for
    /// everyone else. The status and the problem's headers (`Allow`, `Retry-After`) are the same.
    func answer(_ problem: Problem, to request: Request, extraHeaders: HTTPFields = [:]) -> Response {
        if Self.isInferenceProtocol(request.uri.path) {
            return Self.inferenceError(problem, extraHeaders: extraHeaders)
        }
        guard let pages, Self.wantsPage(request),
            var page = try? pages.page(
                "error", ErrorPage(problem, path: request.uri.path),
                caller: .anonymous, status: .init(code: problem.status))
        else {
            return Self.response(problem, path: request.uri.path, extraHeaders: extraHeaders)
        }
        for field in extraHeaders where field.name != .contentType && field.name != .contentLength {
            page.headers[field.name] = field.value
        }
        for (name, value) in problem.headers {
            if let field = HTTPField.Name(name) { page.headers[field] = value }
        }
        return page
    }

    /// The Open Inference Protocol's paths (`/v2`), whose clients read errors as `{"error": "..."}`.
    static func isInferenceProtocol(_ path: String) -> Bool { path == "/v2" || path.hasPrefix("/v2/") }

    /// A problem in the protocol's own shape (Triton's and KServe's), with the same status and headers.
    static func inferenceError(_ problem: Problem, extraHeaders: HTTPFields) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: ["error": problem.detail])) ?? Data()
        return response(problem, body: data, contentType: "application/json", extraHeaders: extraHeaders)
    }

    /// A browser navigating to a page: it asks for HTML, and the path is not the API's (whose
    /// clients always get problem+json, whatever they accept).
    static func wantsPage(_ request: Request) -> Bool {
        let path = request.uri.path
        guard path != "/api", !path.hasPrefix("/api/") else { return false }
        return request.headers[.accept]?.contains("text/html") == true
    }
}

/// What an error page says: what happened, in a person's words, and what to do next. The
/// problem's own detail is shown too, since it names the cause ("this upload link was revoked").
struct ErrorPage: PageView {
    /// The heading, in the window's title too (a stored value: templates read stored ones).
    var title: String
    var heading: String
    var detail: String
    var advice: String
    /// Where the page points next; nil for a contributor link, whose holder has no account.
    var nextHref: String?
    var nextText: String?

    init(_ problem: Problem, path: String) {
        let onLink = path.hasPrefix("/l/")
        detail = Self.sentence(problem.detail)
        if !onLink { (nextHref, nextText) = ("/", "Go to your projects") }
        switch (problem.status, problem.slug) {
        case (403, "link-refused"):
            heading = "This link is no longer active"
            advice = "Ask the project's owner for a new one."
        case (401, _) where onLink:
            heading = "This link is not known"
            advice = "Check that the whole link was copied, or ask the project's owner for a new one."
        case (401, _):
            heading = "Please sign in"
            advice = "Sign in, then open this page again."
            (nextHref, nextText) = ("/login", "Sign in")
        case (403, _):
            heading = "You may not do this"
            advice = "Ask the project's owner or an administrator for access."
        case (404, _):
            heading = "Nothing here"
            advice =
                "It may have been deleted, the address may be mistyped, or it is not shared with you."
        case (429, _):
            heading = "Too many requests"
            advice = "Wait a little, then try again."
        case (400..<500, _):
            heading = "That request could not be used"
            advice = "Go back and check what was entered."
        default:
            heading = "Something went wrong on the server"
            advice = "Try again in a moment; if it keeps happening, tell the server's administrator."
        }
        title = heading
    }

    /// "this upload link was revoked" → "This upload link was revoked."
    static func sentence(_ text: String) -> String {
        guard let first = text.first else { return text }
        let capitalised = first.uppercased() + text.dropFirst()
        return capitalised.hasSuffix(".") || capitalised.hasSuffix("?") ? capitalised : capitalised + "."
    }
}
