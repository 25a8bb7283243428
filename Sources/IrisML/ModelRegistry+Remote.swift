public import Logging
import NIOConcurrencyHelpers

/// Remote models: checked against their servers at start, registered and removed while
/// Iris runs (administrators, over the API), and kept in step with the database in every
/// process.
extension ModelRegistry {
    /// Why a remote model cannot be registered.
    public enum RegistrationError: Error, Sendable, Equatable {
        /// The manifest itself is wrong, or its URL is not allowed.
        case invalid(String)
        /// A model with this name exists.
        case exists(String)
        /// The server did not answer, or what it serves does not match the manifest.
        case unusable(String)
    }

    /// Checks a remote model (its manifest, the allowlist, and what its server says it
    /// serves) and answers it, ready to `add`; nothing is changed.
    public func prepareRemote(_ manifest: ModelManifest) async throws(RegistrationError) -> Model {
        do {
            try manifest.validate()
        } catch {
            throw .invalid("\(error)")
        }
        guard manifest.remote != nil, manifest.file == nil else {
            throw .invalid("only remote models are registered over the API; put local models in the models folder")
        }
        if case .file = manifest.labels {
            throw .invalid("labels must be given as a list for a registered model, not a file")
        }
        guard entries.allSatisfy({ $0.name != manifest.name }) else {
            throw .exists("a model named \(manifest.name) exists")
        }
        let model: Model
        do {
            model = try remoteModel(manifest)
        } catch {
            throw .invalid("\(error)")
        }
        switch await check(model) {
        case .matches: return model
        case .mismatch(let problem), .silent(let problem): throw .unusable(problem)
        }
    }

    /// Makes a remote model's client (allowlist checked); no request is sent.
    func remoteModel(_ manifest: ModelManifest) throws -> Model {
        try ModelLoader(
            folder: folder, manifest: manifest, threads: .init(intraOp: 1), allowlist: allowlist,
            runtime: {
                throw ManifestError(model: manifest.name, message: "remote models need no runtime")
            }
        ).load()
    }

    enum RemoteCheck {
        case matches
        /// The server serves something the manifest does not describe.
        case mismatch(String)
        /// The server did not answer (or not as the protocol says).
        case silent(String)
    }

    /// Asks a remote model's server what it serves (`quick`: one short try, for start-up).
    func check(_ model: Model, quick: Bool = false) async -> RemoteCheck {
        guard let client = model.backend as? OpenInferenceClient else { return .matches }
        let metadata: OpenInferenceClient.Metadata
        do {
            metadata = try await client.metadata(quick: quick)
        } catch {
            return .silent("\(error)")
        }
        do {
            try OpenInferenceClient.check(metadata, against: model.manifest, labels: model.labels.count)
            return .matches
        } catch {
            return .mismatch(error.message)
        }
    }

    /// Adds a model (replacing an entry of the same name).
    public func add(_ model: Model, registered: Bool, note: String? = nil) {
        state.withLockedValue { state in
            state.entries.removeAll { $0.name == model.name }
            state.entries.append(
                Entry(name: model.name, manifest: model.manifest, problem: nil, note: note, registered: registered))
            state.models[model.name] = model
        }
    }

    /// Removes a registered model; false when there is none of that name.
    @discardableResult
    public func remove(_ name: String) -> Bool {
        state.withLockedValue { state in
            guard state.entries.contains(where: { $0.name == name && $0.registered }) else { return false }
            state.entries.removeAll { $0.name == name }
            state.models[name] = nil
            return true
        }
    }

    private func record(problem: String, for manifest: ModelManifest, registered: Bool) {
        state.withLockedValue { state in
            state.entries.removeAll { $0.name == manifest.name }
            state.entries.append(
                Entry(name: manifest.name, manifest: manifest, problem: problem, registered: registered))
            state.models[manifest.name] = nil
        }
    }

    /// Asks every remote model's server what it serves. A model whose server serves something
    /// else becomes unavailable with the reason; one whose server does not answer stays
    /// available (its jobs fail and retry) with a note, since servers often start later.
    /// All servers are asked at once, one short try each, so a start waits at most ~10 s.
    public func verifyRemote(logger: Logger) async {
        let remote = available.filter { $0.manifest.remote != nil }
        let registered = Set(entries.filter(\.registered).map(\.name))
        await withTaskGroup(of: Void.self) { group in
            for model in remote {
                group.addTask { await self.verify(model, registered: registered.contains(model.name), logger: logger) }
            }
        }
    }

    private func verify(_ model: Model, registered: Bool, logger: Logger) async {
        switch await check(model, quick: true) {
        case .matches:
            add(model, registered: registered)
        case .mismatch(let problem):
            record(problem: problem, for: model.manifest, registered: registered)
            logger.error("model unavailable", metadata: ["model": "\(model.name)", "problem": "\(problem)"])
        case .silent(let problem):
            add(model, registered: registered, note: "its server did not answer when checked: \(problem)")
            logger.warning(
                "remote model's server did not answer; its jobs will retry",
                metadata: ["model": "\(model.name)", "problem": "\(problem)"])
        }
    }

    /// Brings the registered models in line with `manifests` (the database's list): new ones
    /// are added and checked, removed ones dropped. Models from the folder are left alone.
    public func sync(registered manifests: [ModelManifest], logger: Logger) async {
        let wanted = Set(manifests.map(\.name))
        for entry in entries where entry.registered && !wanted.contains(entry.name) { remove(entry.name) }
        let known = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var added: [Model] = []
        for manifest in manifests {
            if let entry = known[manifest.name], entry.manifest == manifest || !entry.registered { continue }
            do {
                let model = try remoteModel(manifest)
                add(model, registered: true)
                added.append(model)
            } catch {
                record(problem: ModelRegistry.message(error, file: folder), for: manifest, registered: true)
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for model in added { group.addTask { await self.verify(model, registered: true, logger: logger) } }
        }
    }
}
