import Foundation
public import IrisBlobs
import IrisCore
public import IrisImaging
public import IrisML
public import IrisStore

/// The repair methods Iris offers (the built-ins and every available inpaint model) and the
/// domain photos a built-in repair takes patches from. Read by `RepairService` and by
/// `iris repair`, which runs no queue and stores nothing.
public struct RepairMethods: Sendable {
    public init(store: IrisStore, blobs: any BlobStore, models: ModelRegistry) {
        self.store = store
        self.blobs = blobs
        self.models = models
    }

    public let store: IrisStore
    public let blobs: any BlobStore
    /// Where the inpaint models (the other repair methods) come from.
    public let models: ModelRegistry

    /// The built-in method, patches copied from the photo (and domain photos), with its copied
    /// texture kept to the middle of the hole.
    public static let builtIn = "exemplar"
    /// The built-in methods: `exemplar`, and `exemplar-smooth`, whose copied texture fades deep
    /// in the hole (closer to the lost pixels on average, blurred in a large hole's middle).
    public static let builtIns: [(name: String, finish: Repairer.Finish, title: String)] = [
        (builtIn, .texture, "patches from the photo"),
        ("exemplar-smooth", .smooth, "patches from the photo, smoothed deep in the hole"),
    ]

    /// The finish of a built-in method, or the inpaint model a method names (nil for neither).
    public func resolve(method: String) -> (finish: Repairer.Finish?, network: Repairer.Network?) {
        if let builtIn = Self.builtIns.first(where: { $0.name == method }) { return (builtIn.finish, nil) }
        guard let model = models.model(method), model.repairs else { return (nil, nil) }
        return (nil, Self.network(model))
    }

    static func network(_ model: Model) -> Repairer.Network {
        Repairer.Network(width: model.manifest.input.width, height: model.manifest.input.height) {
            try model.inpaint(rgb: $0, mask: $1)
        }
    }

    /// How the page names a method.
    public static func title(of method: String) -> String {
        builtIns.first { $0.name == method }?.title ?? "\(method) (network)"
    }

    /// The methods a request may name: the built-ins, then every available inpaint model.
    public var names: [String] {
        Self.builtIns.map(\.name)
            + models.available.filter { $0.repairs }.map(\.name).sorted()
    }
    /// Most domain photos one repair takes patches from.
    public static let domainPhotos = 8

    /// The project's photos most like this one by their stored embedding (cosine), best first,
    /// over the first embedding model (by name) the photo has an embedding from.
    public func similarPhotos(to sha256: String, in projectID: Int64) async throws -> [String] {
        for model in embedders {
            guard let own = try await store.analyses.embedding(sha256: sha256, model: model)?.vector else { continue }
            return try await similarPhotos(to: own, model: model, except: sha256, in: projectID)
        }
        return []
    }

    /// The same for a photo file that need not be in the project (`iris repair --project`): its
    /// embedding is made now, by the first embedding model the project's photos have embeddings from.
    public func similarPhotos(toFile path: String, in projectID: Int64) async throws -> [String] {
        for name in embedders {
            guard let model = models.model(name),
                try await !store.learning.embeddings(projectID: projectID, model: name).isEmpty
            else { continue }
            guard let own = try await model.analyze(path: path).embedding else { continue }
            return try await similarPhotos(to: own, model: name, except: nil, in: projectID)
        }
        return []
    }

    private var embedders: [String] {
        models.available.filter { $0.manifest.embeds }.map(\.name).sorted()
    }

    /// The project's photos nearest `own` (cosine), leaving out `except` and earlier repairs'
    /// results (a repair's patches come from real photos).
    private func similarPhotos(to own: [Float], model: String, except: String?, in projectID: Int64) async throws
        -> [String]
    {
        let others = try await store.learning.embeddings(projectID: projectID, model: model)
        let repaired = Set(
            try await store.repairs.list(projectID: projectID, before: nil, limit: 1000).compactMap(\.resultSHA256))
        let ranked = others.filter { $0.sha256 != except && !repaired.contains($0.sha256) }
            .map { ($0.sha256, Self.cosine(own, $0.vector)) }
            .sorted { $0.1 > $1.1 }
            .prefix(Self.domainPhotos)
        var paths: [String] = []
        for (sha256, _) in ranked {
            if let path = try await blobs.localFile(for: .original(sha256)) { paths.append(path) }
        }
        return paths
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return -1 }
        var dot: Float = 0
        var aa: Float = 0
        var bb: Float = 0
        for index in a.indices {
            dot += a[index] * b[index]
            aa += a[index] * a[index]
            bb += b[index] * b[index]
        }
        return dot / max((aa * bb).squareRoot(), 1e-12)
    }
}
