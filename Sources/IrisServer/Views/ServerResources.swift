import Foundation
import IrisCore
import Mustache

/// Templates, static files and the OpenAPI document, loaded from the bundle once at start.
/// Static files are served from this dictionary only, so no request path reaches the file system.
struct ServerResources: Sendable {
    let templates: MustacheLibrary
    let staticFiles: [String: (data: Data, mediaType: String)]
    let openAPI: Data

    static func load() throws -> ServerResources {
        guard let root = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw Problem.unavailable("the server's resource bundle is missing")
        }
        var templates = MustacheLibrary()
        let templateDirectory = root.appendingPathComponent("templates")
        for name in try FileManager.default.contentsOfDirectory(atPath: templateDirectory.path) where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: templateDirectory.appendingPathComponent(name), encoding: .utf8)
            try templates.register(text, named: String(name.dropLast(".mustache".count)))
        }
        var staticFiles: [String: (Data, String)] = [:]
        let staticDirectory = root.appendingPathComponent("static")
        for name in try FileManager.default.contentsOfDirectory(atPath: staticDirectory.path) {
            let type = name.hasSuffix(".css") ? "text/css; charset=utf-8" : name.hasSuffix(".js") ? "text/javascript; charset=utf-8" : "application/octet-stream"
            staticFiles[name] = (try Data(contentsOf: staticDirectory.appendingPathComponent(name)), type)
        }
        let openAPI = try Data(contentsOf: root.appendingPathComponent("openapi.yaml"))
        return ServerResources(templates: templates, staticFiles: staticFiles, openAPI: openAPI)
    }
}
