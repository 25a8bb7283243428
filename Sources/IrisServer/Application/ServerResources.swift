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

    /// Renders a page with what every page shows: the mode banner, and the signed-in user.
    func page(_ template: String, _ values: [String: Any], caller: Caller, status: HTTPResponse.Status = .ok) throws
        -> Response
    {
        var values = values
        if mode == .demo { values["banner"] = "Demo mode: everything works, but nothing you upload is kept." }
        if mode == .readOnly {
            values["banner"] = "Read-only mode: you can look around, but nothing can be changed now."
        }
        if case .session(let user, let csrf) = caller {
            values["csrf"] = csrf
            values["username"] = user.username
        }
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
