import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCommands
import IrisCore
import IrisServer
import IrisServices
import IrisTesting
import Testing

@Suite("Documentation stays true")
struct DocumentationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("the README's settings table is the one `iris config --markdown` prints")
    func settingsTable() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let marker = try #require(readme.range(of: "<!-- settings:begin"))
        let start = try #require(readme.range(of: "-->\n", range: marker.lowerBound..<readme.endIndex))
        let end = try #require(readme.range(of: "<!-- settings:end -->"))
        let documented = readme[start.upperBound..<end.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(documented == IrisCommands.settingsTable(markdown: true))
    }

    @Test("every event is written through the one typed log, never with a bare action string")
    func oneEventLog() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        let files = try #require(FileManager.default.subpaths(atPath: sources.path)).filter { $0.hasSuffix(".swift") }
        var strays: [String] = []
        for file in files where !file.hasSuffix("Events/AuditLog.swift") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            if text.contains("store.events.append(") || text.contains("events.append(Event(") {
                strays.append(file)
            }
        }
        #expect(strays.isEmpty, "events appended outside AuditLog: \(strays)")
        // Nor is an event made or inserted anywhere else: the log builds every event (a store
        // writing thousands in one statement takes the log's template), and the event
        // repository alone writes the table (and reads rows back into events).
        // `Event(` as a name of its own (not `LabelEvent(`, `.event(`).
        func constructs(_ text: String) -> Bool {
            var rest = text[...]
            while let found = rest.range(of: "Event(") {
                let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
                if let before, before.isLetter || before.isNumber || before == "_" || before == "." {
                    rest = text[found.upperBound...]
                    continue
                }
                return true
            }
            return false
        }
        var builders: [String] = []
        for file in files
        where !file.hasSuffix("Events/AuditLog.swift") && !file.hasSuffix("Repositories/EventRepository.swift") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            if text.localizedCaseInsensitiveContains("INSERT INTO events") || constructs(text) {
                builders.append(file)
            }
        }
        #expect(builders.isEmpty, "events built or inserted outside AuditLog and EventRepository: \(builders)")
        // Webhooks subscribe to actions the log knows.
        #expect(EventAction.webhookEvents.allSatisfy { EventAction(rawValue: $0.rawValue) != nil })
    }

    @Test("the server's parts build no event log of their own: IrisSystem hands them its one")
    func oneEventLogBuilt() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        let files = try #require(FileManager.default.subpaths(atPath: sources.path)).filter { $0.hasSuffix(".swift") }
        // The composition root builds the server's; a command that runs no server builds its own.
        let builders = ["IrisServices/Composition/IrisSystem.swift", "IrisServices/Events/AuditLog.swift"]
        var strays: [String] = []
        for file in files where !builders.contains(file) && !file.hasPrefix("IrisCommands/") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            if text.contains("AuditLog(") { strays.append(file) }
        }
        #expect(strays.isEmpty, "event logs built outside IrisSystem: \(strays)")
    }

    @Test("`iris config --values` masks the database password and the S3 secret")
    func valuesHideSecrets() throws {
        let reader = ConfigurationReader(environment: [
            "IRIS_DB_URL": "postgres://iris:hunter2-long@db.example:5432/iris",
            "IRIS_STORAGE_S3_SECRET_KEY": "wJalrXUtnFEMIK7MDENG",
        ])
        let shown = IrisCommands.settingValues(reader)
        #expect(shown.contains("db.url = postgres://iris:********@db.example:5432/iris"), "\(shown)")
        #expect(!shown.contains("hunter2") && !shown.contains("wJalrXUtn"), "\(shown)")
    }
}

@Suite("The OpenAPI document covers the API")
struct OpenAPICoverageTests {
    @Test("every /api/v1 and /v2 route the router has is a path and method in openapi.yaml")
    func everyRouteDocumented() async throws {
        try await TestServer.with(.sqlite) { server in
            let spec = try await server.get("/api/v1/openapi.yaml").text
            let lines = spec.components(separatedBy: "\n")
            for route in server.catalog.routes
            where route.pattern.hasPrefix("/api/v1/") || route.pattern == "/v2" || route.pattern.hasPrefix("/v2/") {
                guard let start = lines.firstIndex(of: "  \(route.pattern):") else {
                    Issue.record("\(route.pattern) is not in openapi.yaml")
                    continue
                }
                // The path's block runs until the next path at the same indent.
                let block = lines[(start + 1)...].prefix { $0.hasPrefix("   ") || $0.isEmpty }
                #expect(block.contains("    \(route.method.rawValue.lowercased()):"), "\(route) is not documented")
            }
        }
    }
}
