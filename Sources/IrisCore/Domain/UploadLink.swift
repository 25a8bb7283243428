public import Foundation

/// A link an owner hands out so that anyone holding it can upload (and label) into one
/// project, and nothing else: the front door of crowdsourced collection.
public struct UploadLink: Sendable, Equatable, Codable {
    public var id: Int64
    public var projectID: Int64
    public var name: String
    /// When set, uploads through the link must carry one of these labels.
    public var labelChoices: [String]?
    public var expiresAt: Date?
    public var maxUploads: Int64?
    public var uploads: Int64
    public var revokedAt: Date?
    public var createdAt: Date

    public init(
        id: Int64, projectID: Int64, name: String, labelChoices: [String]?, expiresAt: Date?, maxUploads: Int64?,
        uploads: Int64,
        revokedAt: Date?, createdAt: Date
    ) {
        self.id = id
        self.projectID = projectID
        self.name = name
        self.labelChoices = labelChoices
        self.expiresAt = expiresAt
        self.maxUploads = maxUploads
        self.uploads = uploads
        self.revokedAt = revokedAt
        self.createdAt = createdAt
    }

    /// Why the link cannot take an upload now, or nil when it can.
    public func refusal(now: Date = Date()) -> String? {
        if revokedAt != nil { return "this upload link was revoked" }
        if let expiresAt, expiresAt <= now { return "this upload link expired" }
        if let maxUploads, uploads >= maxUploads { return "this upload link has taken its \(maxUploads) uploads" }
        return nil
    }
}
