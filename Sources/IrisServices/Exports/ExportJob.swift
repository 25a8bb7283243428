public import Foundation
public import IrisBlobs
public import IrisCore
public import IrisStore

extension BlobKey {
    /// The zip an export job wrote.
    public static func export(_ jobID: Int64) -> BlobKey { BlobKey(path: "exports/\(jobID).zip") }
}

/// `project.export`: writes a project's dataset zip (`DatasetExport`) to scratch space and
/// stores it as a blob; `GET /api/v1/exports/{job}` serves it until it expires.
public struct ExportJob: JobHandler {
    public static let kind = "project.export"
    /// How long an export stays downloadable (the cleanup job removes it after).
    public static let retentionHours = 72.0

    public struct Payload: Codable, Sendable {
        public var projectId: Int64
        public var request: DatasetExport.Request

        public init(projectId: Int64, request: DatasetExport.Request) {
            (self.projectId, self.request) = (projectId, request)
        }

        public enum CodingKeys: String, CodingKey {
            case projectId = "project_id"
            case request
        }
    }

    public struct Output: Codable, Sendable {
        public var images: Int
        public var skipped: Int
        public var classes: [String]
        public var bytes: Int64
        public var fileName: String
        /// ISO 8601, when the zip is removed.
        public var expiresAt: String

        public var expiry: Date? { ISO8601DateFormatter().date(from: expiresAt) }

        public enum CodingKeys: String, CodingKey {
            case images, skipped, classes, bytes
            case fileName = "file_name"
            case expiresAt = "expires_at"
        }
    }

    public let export: DatasetExport
    public let scratch: ScratchSpace

    public init(export: DatasetExport, scratch: ScratchSpace) {
        (self.export, self.scratch) = (export, scratch)
    }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard let project = try await export.store.projects.find(id: payload.projectId) else {
            throw PermanentJobFailure("project \(payload.projectId) no longer exists")
        }
        let file = scratch.newFileURL(suffix: ".zip")
        defer { try? FileManager.default.removeItem(at: file) }
        let summary = try await export.write(projectID: project.id, payload.request, to: file) { done, total in
            if done % 50 == 0 || done == total {
                context.report(
                    progress: total == 0 ? 1 : Double(done) / Double(total), message: "\(done) of \(total) images")
            }
        }
        try await export.blobs.put(.export(context.job.id), movingFileAt: file)
        return Output(
            images: summary.images, skipped: summary.skipped, classes: summary.classes, bytes: summary.bytes,
            fileName: Self.fileName(project: project.name, format: payload.request.format),
            expiresAt: ISO8601DateFormatter().string(from: Date().addingTimeInterval(Self.retentionHours * 3600)))
    }

    /// `street-trees-imagefolder.zip`.
    static func fileName(project: String, format: DatasetExport.Format) -> String {
        // ASCII only: it goes into a Content-Disposition header.
        let stem = project.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? String($0) : "-" }.joined()
        return "\(stem.isEmpty ? "project" : stem)-\(format.rawValue).zip"
    }

    /// Removes the zips of exports finished more than `retentionHours` ago; answers how many.
    public static func expire(store: IrisStore, blobs: any BlobStore, now: Date = Date()) async throws -> Int {
        var removed = 0
        var before: Int64?
        let cutoff = now.addingTimeInterval(-retentionHours * 3600)
        for _ in 0..<100 {
            let page = try await store.jobs.list(
                state: .succeeded, kind: kind, projectIDs: nil, keyPrefix: nil, before: before, limit: 500)
            for job in page where (job.finishedAt ?? now) < cutoff {
                if try await blobs.size(of: .export(job.id)) != nil {
                    try await blobs.delete(.export(job.id))
                    removed += 1
                }
            }
            guard page.count == 500, let last = page.last else { break }
            before = last.id
        }
        return removed
    }
}
