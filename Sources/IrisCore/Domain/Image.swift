public import Foundation

/// One stored image, identified by the SHA-256 of its bytes. The same bytes are
/// stored once however many projects hold them.
public struct ImageRecord: Sendable, Equatable, Codable {
    public var sha256: String
    public var format: ImageFormat
    /// Width and height as displayed, after EXIF orientation is applied.
    public var width: Int
    public var height: Int
    public var bytes: Int64
    /// When the photo was taken, from EXIF, when the file says.
    public var capturedAt: Date?
    public var createdAt: Date
    /// The moderation model's score (0…1, higher is less safe), once it has run.
    public var moderation: Double?

    public init(
        sha256: String, format: ImageFormat, width: Int, height: Int, bytes: Int64, capturedAt: Date?, createdAt: Date,
        moderation: Double? = nil
    ) {
        self.moderation = moderation
        self.sha256 = sha256
        self.format = format
        self.width = width
        self.height = height
        self.bytes = bytes
        self.capturedAt = capturedAt
        self.createdAt = createdAt
    }

    /// True when `text` looks like a lowercase hex SHA-256 digest.
    public static func isValidSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Refuses text that is not a SHA-256 in lowercase hex, naming `field`.
    public static func checkSHA256(_ raw: String, field: String) throws {
        guard isValidSHA256(raw) else {
            throw Refusal.invalid(
                "\(field) must be 64 lowercase hexadecimal characters, not \"\(raw.prefix(80))\"", field: field)
        }
    }
}

/// A label on an image within one project. `source` is `human` or the name of the
/// model that proposed it; `confidence` is in 0...1 (nil for human labels).
public struct Label: Sendable, Equatable, Codable, Hashable {
    public static let humanSource = "human"

    public var name: String
    public var source: String
    public var confidence: Double?

    public init(name: String, source: String = Label.humanSource, confidence: Double? = nil) {
        self.name = name
        self.source = source
        self.confidence = confidence
    }
}

/// An image as a member of a project, with that project's labels on it.
public struct ProjectImage: Sendable, Equatable {
    public var image: ImageRecord
    public var projectID: Int64
    public var labels: [Label]
    public var originalName: String?
    public var addedAt: Date
    /// Where the photo stands in the project's review.
    public var review: ReviewState = .accepted

    public init(image: ImageRecord, projectID: Int64, labels: [Label], originalName: String?, addedAt: Date) {
        self.image = image
        self.projectID = projectID
        self.labels = labels
        self.originalName = originalName
        self.addedAt = addedAt
    }
}
