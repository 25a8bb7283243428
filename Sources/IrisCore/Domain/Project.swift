public import Foundation

/// A collection of images with its own labels: the unit teams collect, label and train on.
public struct Project: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    public var description: String
    /// When set, human labels in this project must come from this list.
    public var labelSet: [String]?
    /// Images whose moderation score is above this are flagged for review and hidden from
    /// contributors and viewers; nil uses the server's `moderation.threshold`.
    public var moderationThreshold: Double?
    /// Whether a repair that does not say takes patches from the project's similar photos too.
    public var repairDomain: Bool
    /// Which uploads wait for an editor's review before they count.
    public var review: ReviewPolicy = .off
    /// How many days a rejected photo stays (hidden) before it leaves the project.
    public var rejectRetentionDays: Int = 30
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: Int64, name: String, description: String, labelSet: [String]?, moderationThreshold: Double? = nil,
        repairDomain: Bool = false, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.labelSet = labelSet
        self.moderationThreshold = moderationThreshold
        self.repairDomain = repairDomain
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Which uploads of a project wait for review: none (`off`), those through contributor links
/// (`links`), or also those of members with the contributor role (`contributors`).
public enum ReviewPolicy: String, Sendable, Codable, CaseIterable {
    case off, links, contributors
}

/// Where a photo stands in its project's review: `accepted` photos count everywhere; `pending`
/// and `rejected` ones are seen by editors and owners only and used by nothing (learner, heads,
/// evaluations, exports, duplicates).
public enum ReviewState: String, Sendable, Codable, CaseIterable {
    case accepted, pending, rejected
}

/// Validation rules for names users type, shared by projects and labels.
public enum NameRules {
    public static let maxProjectName = 200
    public static let maxDescription = 10_000
    public static let maxLabel = 100
    public static let maxLabelSet = 10_000

    /// Soft hyphen, Arabic letter mark, Mongolian vowel separator, zero-width space, the
    /// direction marks, embeddings, overrides and isolates, word joiner and invisible operators,
    /// the deprecated format controls, the byte-order mark, and interlinear annotations.
    static let invisible: [ClosedRange<UInt32>] = [
        0xAD...0xAD, 0x61C...0x61C, 0x180E...0x180E, 0x200B...0x200B, 0x200E...0x200F, 0x202A...0x202E,
        0x2060...0x2064, 0x2066...0x206F, 0xFEFF...0xFEFF, 0xFFF9...0xFFFB,
    ]

    /// Trims a name and checks its length and characters; throws a 400 naming `field`. The
    /// length is counted in Unicode code points, as JSON Schema's `maxLength` counts it (an emoji
    /// with a skin tone is one character on screen and two code points).
    public static func validated(_ raw: String, field: String, maxLength: Int) throws -> String {
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw Refusal.invalid("\(field) must not be empty", field: field) }
        let length = name.unicodeScalars.count
        guard length <= maxLength else {
            throw Refusal.invalid("\(field) is \(length) characters; the limit is \(maxLength)", field: field)
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Refusal.invalid("\(field) must not contain control characters", field: field)
        }
        // Invisible formatting characters: a right-to-left override shows "invoice‮gpj.exe" as
        // "invoiceexe.jpg", a zero-width space makes "a​b" another label than "ab". The set is
        // the format characters that hide or reorder text (the joiners of emoji sequences stay
        // allowed); openapi.yaml's name pattern excludes the same ones.
        if let hidden = name.unicodeScalars.first(where: { scalar in
            Self.invisible.contains { $0.contains(scalar.value) }
        }) {
            throw Refusal.invalid(
                "\(field) must not contain invisible formatting characters (U+\(String(hidden.value, radix: 16, uppercase: true)))",
                field: field)
        }
        return name
    }
}
