import Foundation
import IrisCore
import IrisML
import IrisStore
import Logging

extension ModelRegistry {
    /// Loads the remote models registered in the database into this process's registry (new
    /// ones added and checked, removed ones dropped). At start, and when a job names a model
    /// this process does not know yet (another process registered it).
    func syncRegistered(from store: IrisStore, logger: Logger) async throws {
        let rows = try await store.registeredModels.all()
        var manifests: [ModelManifest] = []
        for row in rows {
            do {
                manifests.append(try JSONDecoder().decode(ModelManifest.self, from: Data(row.manifest.utf8)))
            } catch {
                logger.error("a registered model's manifest cannot be read", metadata: ["model": "\(row.name)", "error": "\(error)"])
            }
        }
        await sync(registered: manifests, logger: logger)
    }

    /// The model named, looking in the database once when this process does not know it.
    func model(_ name: String, orSyncFrom store: IrisStore, logger: Logger) async throws -> Model? {
        if let model = model(name) { return model }
        try await syncRegistered(from: store, logger: logger)
        return model(name)
    }
}
