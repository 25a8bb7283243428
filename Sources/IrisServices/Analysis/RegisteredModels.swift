import Foundation
import IrisCore
public import IrisML
public import IrisStore
public import Logging

extension ModelRegistry {
    /// Loads the remote models registered in the database into this process's registry (new
    /// ones added and checked, removed ones dropped). At start, and when a job names a model
    /// this process does not know yet (another process registered it).
    public func syncRegistered(from store: IrisStore, logger: Logger) async throws {
        let rows = try await store.registeredModels.all()
        var manifests: [ModelManifest] = []
        for row in rows {
            do {
                manifests.append(try JSONDecoder().decode(ModelManifest.self, from: Data(row.manifest.utf8)))
            } catch {
                logger.error(
                    "a registered model's manifest cannot be read",
                    metadata: ["model": "\(row.name)", "error": "\(error)"])
            }
        }
        await sync(registered: manifests, logger: logger)
    }

    /// Registers a remote model: checks it (manifest, allowlist, what its server serves), keeps
    /// it in the database and adds it here. Refusals: `.invalid` for
    /// the manifest or the allowlist, `.conflict` for a name in use, `.unprocessable` for the server.
    public func register(_ manifest: ModelManifest, store: IrisStore, createdBy: Int64?) async throws -> Entry {
        let model: Model
        do {
            model = try await prepareRemote(manifest)
        } catch {
            switch error {
            case .invalid(let detail): throw Refusal.invalid(detail)
            case .exists(let detail): throw Refusal.conflict(detail, field: "name")
            case .unusable(let detail): throw Refusal.unprocessable("remote-model-unusable", detail, field: "remote")
            }
        }
        let json = String(decoding: try JSONEncoder().encode(manifest), as: UTF8.self)
        guard
            try await store.registeredModels.add(
                RegisteredModel(name: manifest.name, manifest: json, createdBy: createdBy, createdAt: Date()))
        else { throw Refusal.conflict("a model named \(manifest.name) exists", field: "name") }
        add(model, registered: true)
        return entries.first { $0.name == manifest.name }!
    }

    /// Removes a registered remote model from the database and from here; a model from the
    /// folder cannot be removed this way (409).
    public func unregister(_ name: String, store: IrisStore) async throws {
        guard let entry = entries.first(where: { $0.name == name }) else {
            throw Refusal.notFound("no model named \(name)")
        }
        guard entry.registered else {
            throw Refusal.conflict(
                "\(name) comes from the models folder (\(folder.path)); remove its manifest there and restart")
        }
        _ = try await store.registeredModels.remove(name: name)
        remove(name)
    }

    /// The model named, as the database has it now. A folder model is answered from here. For
    /// a registered model, or a name this process does not know, the registrations are read
    /// again first: another process may have registered it, removed it, or registered it anew
    /// with another manifest. (One small query; a remote run costs a network round trip anyway.)
    public func model(_ name: String, orSyncFrom store: IrisStore, logger: Logger) async throws -> Model? {
        if let model = model(name), entries.first(where: { $0.name == name })?.registered == false { return model }
        try await syncRegistered(from: store, logger: logger)
        return model(name)
    }
}
