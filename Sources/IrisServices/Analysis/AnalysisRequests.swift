import Foundation
public import IrisCore
public import IrisML

/// The photo-analysis use case behind `POST /api/v1/analyses`: the models asked for are
/// checked (known, available, analysing), then one job per (image, model) is queued, for a
/// stored photo or for a new one that first goes through the upload use case.
public struct AnalysisRequests: Sendable {
    public let queue: JobQueue
    public let models: ModelRegistry
    public let uploads: Uploads

    public init(queue: JobQueue, models: ModelRegistry, uploads: Uploads) {
        (self.queue, self.models, self.uploads) = (queue, models, uploads)
    }

    /// The names asked for, trimmed and without repeats: 400 naming `models` when there is
    /// none, when one is unknown or unavailable, or when one repairs photos rather than analysing them.
    public func checkModels(_ requested: [String]) throws -> [String] {
        let names = requested.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let available = models.available.map(\.name).joined(separator: ", ")
        guard !names.isEmpty else {
            throw Refusal.invalid("models is empty; available: \(available)", field: "models")
        }
        let unknown = names.filter { models.model($0) == nil }
        guard unknown.isEmpty else {
            throw Refusal.invalid(
                "unknown or unavailable model\(unknown.count == 1 ? "" : "s"): \(unknown.joined(separator: ", ")); available: \(available)",
                field: "models")
        }
        let repairers = names.filter { models.model($0)?.repairs == true }
        guard repairers.isEmpty else {
            let one = repairers.count == 1
            throw Refusal.invalid(
                "\(repairers.joined(separator: ", ")) repair\(one ? "s" : "") photos and analyse\(one ? "s" : "") none: name it as the method of POST /api/v1/images/{sha256}/repairs",
                field: "models")
        }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    /// One job per model; a repeat finds the job already there (same idempotency key).
    /// Asked for explicitly, they run ahead of automatic analyses of uploads.
    public func enqueue(_ sha256: String, models names: [String], projectID: Int64?) async throws -> [String: Int64] {
        var jobs: [String: Int64] = [:]
        for name in names {
            let (job, _) = try await queue.enqueue(
                try AnalysisJob.request(sha256: sha256, model: name, projectID: projectID, priority: 10))
            jobs[name] = job.id
        }
        return jobs
    }

    /// Stores a new photo in `project` as an upload (it counts against the sender's rate),
    /// then queues its analyses. Demo mode checks the photo and keeps nothing: no image, so
    /// no job (an empty answer).
    public func ingestAndEnqueue(
        _ file: StagedUpload, into project: Project, models names: [String], from sender: Uploads.Sender
    ) async throws -> [String: Int64] {
        _ = try await uploads.accept(file, into: project, labels: [], from: sender, detail: ["via": "analyses"])
        guard uploads.library.keep else { return [:] }
        return try await enqueue(file.sha256, models: names, projectID: project.id)
    }
}
