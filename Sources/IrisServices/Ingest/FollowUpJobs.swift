import Foundation
public import IrisBlobs
public import IrisCore
public import IrisStore

/// The jobs every stored image should have: its larger thumbnails, and one analysis per
/// automatic model. They are queued in the transaction that stores the image's row; this also
/// finds the ones an older version (which queued them afterwards, in transactions of their
/// own) lost to a crash, so that a repeated upload or the cleanup sweep can queue them.
public struct FollowUpJobs: Sendable {
    public init(autoModels: [String] = []) {
        self.autoModels = autoModels
    }

    /// `analysis.auto_models`, less those not available.
    public var autoModels: [String] = []

    public func requests(sha256: String, projectID: Int64?) throws -> [JobRequest] {
        try [ThumbnailJob.request(sha256: sha256, projectID: projectID)]
            + autoModels.map { try AnalysisJob.request(sha256: sha256, model: $0, projectID: projectID) }
    }

    /// The analyses of `images` that no job was ever queued for (in any state) and that have no
    /// result, and, when `blobs` is given, thumbnail jobs for images whose 1024 px thumbnail is
    /// missing and was never queued. (The thumbnail route also makes missing sizes on demand.)
    public func missing(for images: [(sha256: String, projectID: Int64)], in store: IrisStore, blobs: (any BlobStore)?)
        async throws -> [JobRequest]
    {
        guard !images.isEmpty else { return [] }
        let wanted = try images.flatMap { try requests(sha256: $0.sha256, projectID: $0.projectID) }
        let queued = try await store.jobs.existingKeys(wanted.compactMap(\.idempotencyKey))
        let analysed = try await store.analyses.analysed(sha256s: images.map(\.sha256))
        var missing: [JobRequest] = []
        for image in images {
            if let blobs, !queued.contains(ThumbnailJob.key(sha256: image.sha256)),
                try await blobs.size(of: .thumbnail(image.sha256, size: ImageLibrary.thumbnailSizes[0])) == nil
            {
                missing.append(try ThumbnailJob.request(sha256: image.sha256, projectID: image.projectID))
            }
            // A result is stored as "<sha256>:<model>" (`AnalysisRepository.analysed`).
            for model in autoModels
            where !queued.contains(AnalysisJob.key(sha256: image.sha256, model: model))
                && !analysed.contains("\(image.sha256):\(model)")
            {
                missing.append(try AnalysisJob.request(sha256: image.sha256, model: model, projectID: image.projectID))
            }
        }
        return missing
    }
}
