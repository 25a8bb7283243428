import Foundation
import HTTPTypes
import Hummingbird
import IrisCore
import IrisServices
import Mustache
import NIOCore

/// Templates, static files and the OpenAPI document, loaded from the bundle once at start.
/// Static files are served from this dictionary only, so no request path reaches the file system.
struct ServerResources: Sendable {
    let templates: MustacheLibrary
    let staticFiles: [String: (data: Data, mediaType: String)]
    let openAPI: Data
    let mode: ServerMode
    /// Origins besides this one that pages may load images from (`storage.s3.public_url`).
    var imageOrigins: [String] = []

    /// Renders a page: its view model, and what every page shows (the mode banner, and the
    /// signed-in user).
    func page(_ template: String, _ view: some PageView, caller: Caller, status: HTTPResponse.Status = .ok) throws
        -> Response
    {
        var chrome: [String: String] = [:]
        if mode == .demo { chrome["banner"] = "Demo mode: everything works, but nothing you upload is kept." }
        if mode == .readOnly {
            chrome["banner"] = "Read-only mode: you can look around, but nothing can be changed now."
        }
        if case .session(let user, let csrf) = caller {
            chrome["csrf"] = csrf
            chrome["username"] = user.username
        }
        let values = RenderedPage(chrome: chrome, view: view)
        guard let html = templates.render(values, withTemplate: template) else {
            throw Problem.unavailable("template \(template) is missing")
        }
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8",
                // No other site may frame a page (clickjacking): `frame-ancestors` for current
                // browsers, `X-Frame-Options` for those that predate CSP level 2.
                .init("Content-Security-Policy")!: "default-src 'self'; img-src "
                    + (["'self'"] + imageOrigins + ["blob:", "data:"]).joined(separator: " ")
                    + "; frame-ancestors 'none'",
                .init("X-Frame-Options")!: "DENY",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func load(mode: ServerMode = .normal) throws -> ServerResources {
        guard let root = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw Problem.unavailable("the server's resource bundle is missing")
        }
        var templates = MustacheLibrary()
        let templateDirectory = root.appendingPathComponent("templates")
        for name in try FileManager.default.contentsOfDirectory(atPath: templateDirectory.path)
        where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: templateDirectory.appendingPathComponent(name), encoding: .utf8)
            try templates.register(text, named: String(name.dropLast(".mustache".count)))
        }
        var staticFiles: [String: (Data, String)] = [:]
        let staticDirectory = root.appendingPathComponent("static")
        for name in try FileManager.default.contentsOfDirectory(atPath: staticDirectory.path) {
            let types = [
                "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8", "png": "image/png",
                "svg": "image/svg+xml", "webmanifest": "application/manifest+json",
            ]
            let type = types[(name as NSString).pathExtension] ?? "application/octet-stream"
            staticFiles[name] = (try Data(contentsOf: staticDirectory.appendingPathComponent(name)), type)
        }
        let openAPI = try Data(contentsOf: root.appendingPathComponent("openapi.yaml"))
        return ServerResources(templates: templates, staticFiles: staticFiles, openAPI: openAPI, mode: mode)
    }
}

/// A page's view model: the values its template names, as stored properties (swift-mustache
/// reads them by reflection). Every page has a title.
protocol PageView: Sendable {
    var title: String { get }
}

/// What a template renders: the page chrome first, then the page's own values.
private struct RenderedPage<View: PageView>: MustacheParent {
    let chrome: [String: String]
    let view: View

    func child(named name: String) -> Any? {
        if let value = chrome[name] { return value }
        guard let value = Mirror(reflecting: view).children.first(where: { $0.label == name })?.value else {
            return nil
        }
        // An optional property that is nil is absent (its section is not drawn); one that holds
        // a value is that value.
        let optional = Mirror(reflecting: value)
        guard optional.displayStyle == .optional else { return value }
        return optional.children.first?.value
    }
}
