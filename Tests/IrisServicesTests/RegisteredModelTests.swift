import Foundation
import IrisCore
import IrisStore
import IrisTesting
import Testing

@testable import IrisML
@testable import IrisServices

/// Registered remote models across processes: what one process registers, removes or
/// registers anew, another process's jobs see at their next use. Two registries on one
/// database stand for two processes (the web server and an `iris worker`).
@Suite struct RegisteredModelTests {
    /// A remote manifest for a server on a closed loopback port: it loads (available with a
    /// note saying the server is silent) without any server running.
    static func manifest(timeout: Double) throws -> String {
        var manifest = try JSONDecoder().decode(
            ModelManifest.self, from: Data(contentsOf: TestModels.folder.appendingPathComponent("mobilenet-v2.json")))
        manifest.name = "shared-remote"
        manifest.file = nil
        manifest.remote = .init(url: "http://127.0.0.1:9", model: "mobilenet", timeoutSeconds: timeout, retries: 0)
        manifest.labels = .list((0..<1000).map { "class \($0)" })
        return String(decoding: try JSONEncoder().encode(manifest), as: UTF8.self)
    }

    static func registry() throws -> ModelRegistry {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("iris-empty-models-\(UUID())")
        return ModelRegistry(
            folder: folder, entries: [], models: [:], runtimeVersion: nil,
            allowlist: try RemoteAllowlist(["http://127.0.0.1:9"]))
    }

    @Test(
        "a registration removed or replaced by another process is seen at the next job", arguments: TestDatabase.enabled
    )
    func removalsReachOtherProcesses(database: TestDatabase) async throws {
        try await database.withStore { store in
            let worker = try Self.registry()
            let logger = TestDatabase.logger
            // Another process registers the model: this one finds it when a job names it.
            #expect(
                try await store.registeredModels.add(
                    RegisteredModel(
                        name: "shared-remote", manifest: try Self.manifest(timeout: 5), createdBy: nil,
                        createdAt: Date())))
            let found = try #require(try await worker.model("shared-remote", orSyncFrom: store, logger: logger))
            #expect(found.manifest.remote?.timeoutSeconds == 5)

            // It registers it anew with another manifest: the next job uses the new one.
            #expect(try await store.registeredModels.remove(name: "shared-remote"))
            #expect(
                try await store.registeredModels.add(
                    RegisteredModel(
                        name: "shared-remote", manifest: try Self.manifest(timeout: 7), createdBy: nil,
                        createdAt: Date())))
            let replaced = try #require(try await worker.model("shared-remote", orSyncFrom: store, logger: logger))
            #expect(replaced.manifest.remote?.timeoutSeconds == 7)

            // It removes it: this process no longer runs it.
            #expect(try await store.registeredModels.remove(name: "shared-remote"))
            #expect(try await worker.model("shared-remote", orSyncFrom: store, logger: logger) == nil)
            #expect(worker.model("shared-remote") == nil)
        }
    }
}
