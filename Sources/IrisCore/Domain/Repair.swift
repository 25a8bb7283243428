public import Foundation

/// One repair request and what came of it: the project's history of repairs.
public struct RepairRecord: Sendable, Equatable {
    public enum State: String, Sendable, Codable {
        case queued, running, succeeded, failed
    }

    public init(
        id: Int64 = 0, projectID: Int64, sourceSHA256: String, maskSHA256: String, resultSHA256: String? = nil,
        method: String, domain: Bool, seed: UInt64, state: State = .queued, jobID: Int64? = nil,
        requestedBy: String, error: String? = nil, timings: String? = nil, discarded: Bool = false,
        createdAt: Date, finishedAt: Date? = nil
    ) {
        self.id = id
        self.projectID = projectID
        self.sourceSHA256 = sourceSHA256
        self.maskSHA256 = maskSHA256
        self.resultSHA256 = resultSHA256
        self.method = method
        self.domain = domain
        self.seed = seed
        self.state = state
        self.jobID = jobID
        self.requestedBy = requestedBy
        self.error = error
        self.timings = timings
        self.discarded = discarded
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }

    public var id: Int64
    public var projectID: Int64
    public var sourceSHA256: String
    /// The normalised mask (one band, 255 = repaired), stored as a blob under `masks/`.
    public var maskSHA256: String
    /// The repaired photo, a new image of the project.
    public var resultSHA256: String?
    public var method: String
    /// Patches were also taken from the project's most similar photos.
    public var domain: Bool
    public var seed: UInt64
    public var state: State
    public var jobID: Int64?
    /// Who asked, as the audit log names them.
    public var requestedBy: String
    public var error: String?
    /// JSON: seconds per step, pixels repaired and worked on.
    public var timings: String?
    /// The owner discarded the result: it left the project.
    public var discarded: Bool
    public var createdAt: Date
    public var finishedAt: Date?
}
