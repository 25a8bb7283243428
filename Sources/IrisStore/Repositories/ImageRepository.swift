public import Foundation
public import IrisCore
import SQLKit

/// What adding an image to a project changed.
public struct ImageAddition: Sendable {
    public var member: ProjectImage
    /// The bytes were already stored in Iris before this upload (in any project).
    public var imageExisted: Bool
    /// The image was already in this project before this upload.
    public var alreadyInProject: Bool
    /// The labels this addition gave the project's copy (those it already had are not here).
    public var addedLabels: [Label] = []
}

/// A page of a project's images, newest first.
public struct ImagePage: Sendable {
    public var items: [ProjectImage]
    /// Pass as `after` to get the next page; nil on the last page.
    public var nextCursor: Int64?
}

/// Which images of a project a listing shows.
public struct ImageFilter: Sendable, Equatable {
    /// Only images with this human label.
    public var label: String?
    /// Only images a model gave this label (any of its top labels).
    public var modelLabel: String?
    /// Leave out images whose moderation score is above this, unless reviewed.
    public var hideFlaggedAbove: Double?
    /// Only photos in this review state.
    public var review: ReviewState?
    /// Only accepted photos (what contributors and viewers see).
    public var onlyAccepted = false
    /// Only photos that came through this contributor link.
    public var linkID: Int64?

    public init(
        label: String? = nil, modelLabel: String? = nil, hideFlaggedAbove: Double? = nil, review: ReviewState? = nil,
        onlyAccepted: Bool = false
    ) {
        self.label = label
        self.modelLabel = modelLabel
        self.hideFlaggedAbove = hideFlaggedAbove
        self.review = review
        self.onlyAccepted = onlyAccepted
    }
}

/// Which projects hold an image, with their labels on it.
public struct ImageMembership: Sendable, Equatable {
    public var projectID: Int64
    public var projectName: String
    public var labels: [Label]
    public var addedAt: Date
    /// The project's own moderation threshold (nil: the server's).
    public var moderationThreshold: Double?
    /// An editor reviewed the image in this project (a flagged image is then shown).
    public var reviewed: Bool
    /// Where the photo stands in the project's review (only accepted ones are shown to
    /// contributors and viewers).
    public var reviewState: ReviewState = .accepted
}

/// Images, their project memberships and labels.
public protocol ImageRepository: Sendable {
    func find(sha256: String) async throws -> ImageRecord?
    /// Records the image (once, whatever the project) and its membership of `projectID`,
    /// with `labels`, all in one transaction. Labels already present are kept.
    /// `linkID` names the upload link that brought the image, if one did. `jobs` (the image's
    /// thumbnails and analyses) are queued in the same transaction, so a crash can never leave
    /// a stored image that nothing will ever analyse. The events `events` makes of the
    /// addition (its `image.uploaded`) commit with it too: a crash cannot keep the photo and
    /// lose the record of who sent it.
    func add(
        _ image: ImageRecord, to projectID: Int64, labels: [Label], originalName: String?, linkID: Int64?,
        review: ReviewState, jobs: [JobRequest], events: @escaping @Sendable (ImageAddition) -> [Event]
    ) async throws
        -> ImageAddition
    func member(sha256: String, of projectID: Int64) async throws -> ProjectImage?
    func list(projectID: Int64, filter: ImageFilter, after cursor: Int64?, limit: Int) async throws -> ImagePage
    /// How many of the project's images the filter matches (what "select all" selects).
    func count(projectID: Int64, filter: ImageFilter) async throws -> Int
    func memberships(sha256: String) async throws -> [ImageMembership]
    /// Takes the image out of the project. Returns whether the image row itself was
    /// deleted because no project holds it any more (its blobs are then the caller's to remove).
    func remove(sha256: String, from projectID: Int64) async throws -> Bool
    /// Takes these human labels off the project's copy of the image (undoing an import that gave them).
    func removeLabels(_ names: [String], from sha256: String, in projectID: Int64) async throws
    /// Keeps `keep` of a group of duplicates in the project: the others' labels are added to it
    /// and they leave the project, in one transaction. Answers the images no project holds any
    /// more (their blobs are the caller's to remove).
    func merge(_ others: [String], into keep: String, in projectID: Int64) async throws -> [String]
    /// Which of these hashes are images of the project (for an uploader's check before sending).
    func present(_ sha256s: [String], in projectID: Int64) async throws -> Set<String>
    /// The names photos were uploaded under, each in the project given for it (a photo
    /// without a name, or not in that project, is left out).
    func originalNames(_ photos: [(sha256: String, projectID: Int64)]) async throws -> [String: String]
    /// Every stored image's hash: for consistency checks and tools.
    func allSHA256() async throws -> [String]
    /// Stored images in hash order after `cursor`, each with the first project holding it: for
    /// sweeps over every image in bounded pages.
    func page(after cursor: String?, limit: Int) async throws -> [(sha256: String, projectID: Int64)]
}

extension ImageRepository {
    public func add(_ image: ImageRecord, to projectID: Int64, labels: [Label], originalName: String?, linkID: Int64?)
        async throws -> ImageAddition
    {
        try await add(
            image, to: projectID, labels: labels, originalName: originalName, linkID: linkID, review: .accepted,
            jobs: [], events: { _ in [] })
    }
}

/// `ImageRepository` in SQL, for SQLite and PostgreSQL alike.
public struct SQLImageRepository: ImageRepository {
    let database: IrisDatabase

    public init(database: IrisDatabase) { self.database = database }

    static let imageColumns =
        "i.sha256, i.format, i.width, i.height, i.bytes, i.captured_at, i.created_at, i.moderation"

    public func find(sha256: String) async throws -> ImageRecord? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.imageColumns) FROM images i WHERE i.sha256 = \(bind: sha256)")
                .first().map(Self.image)
        }
    }

    public func add(
        _ image: ImageRecord, to projectID: Int64, labels: [Label], originalName: String?, linkID: Int64?,
        review: ReviewState, jobs: [JobRequest], events: @escaping @Sendable (ImageAddition) -> [Event]
    ) async throws
        -> ImageAddition
    {
        let dialect = database.dialect
        return try await database.transaction { db in
            guard try await db.raw("SELECT id FROM projects WHERE id = \(bind: projectID)").first() != nil else {
                throw StoreError.notFound("no project has id \(projectID)")
            }
            let now = Clock.nowMilliseconds()
            // ON CONFLICT DO NOTHING ... RETURNING answers "did this insert?" atomically: two
            // uploads of the same bytes at once both succeed, and exactly one creates the row.
            let insertedImage = try await db.raw(
                """
                INSERT INTO images (sha256, format, width, height, bytes, captured_at, created_at)
                VALUES (\(bind: image.sha256), \(bind: image.format.rawValue), \(bind: Int64(image.width)), \(bind: Int64(image.height)),
                \(bind: image.bytes), \(bind: image.capturedAt.map(Clock.milliseconds)), \(bind: now))
                ON CONFLICT (sha256) DO NOTHING RETURNING sha256
                """
            ).first()
            let insertedMember = try await db.raw(
                """
                INSERT INTO project_images (project_id, sha256, original_name, added_at, link_id, review_state)
                VALUES (\(bind: projectID), \(bind: image.sha256), \(bind: originalName), \(bind: now), \(bind: linkID),
                \(bind: review.rawValue))
                ON CONFLICT (project_id, sha256) DO NOTHING RETURNING id
                """
            ).first()
            var addedLabels: [Label] = []
            for label in labels {
                let inserted = try await db.raw(
                    """
                    INSERT INTO labels (project_id, sha256, name, source, confidence, created_at)
                    VALUES (\(bind: projectID), \(bind: image.sha256), \(bind: label.name), \(bind: label.source), \(bind: label.confidence), \(bind: now))
                    ON CONFLICT (project_id, sha256, name, source) DO NOTHING RETURNING name
                    """
                ).first()
                if inserted != nil { addedLabels.append(label) }
            }
            guard let member = try await Self.member(sha256: image.sha256, of: projectID, on: db) else {
                throw StoreError.inconsistent("the image vanished while it was being added")
            }
            for job in jobs { _ = try await SQLJobRepository.insert(job, db, dialect: dialect) }
            let addition = ImageAddition(
                member: member, imageExisted: insertedImage == nil, alreadyInProject: insertedMember == nil,
                addedLabels: addedLabels)
            try await SQLEventRepository.insert(events(addition), at: now, on: db)
            return addition
        }
    }

    public func member(sha256: String, of projectID: Int64) async throws -> ProjectImage? {
        try await database.withConnection { db in try await Self.member(sha256: sha256, of: projectID, on: db) }
    }

    static func member(sha256: String, of projectID: Int64, on db: any SQLDatabase) async throws -> ProjectImage? {
        guard
            let row = try await db.raw(
                """
                SELECT \(unsafeRaw: imageColumns), p.project_id, p.original_name, p.added_at, p.review_state
                FROM project_images p JOIN images i ON i.sha256 = p.sha256
                WHERE p.project_id = \(bind: projectID) AND p.sha256 = \(bind: sha256)
                """
            ).first()
        else { return nil }
        let labels = try await Self.labels(projectID: projectID, sha256s: [sha256], on: db)
        return try Self.projectImage(row, labels: labels[sha256] ?? [])
    }

    public func list(projectID: Int64, filter: ImageFilter, after cursor: Int64?, limit: Int) async throws -> ImagePage
    {
        try await database.withConnection { db in
            var query: SQLQueryString = """
                SELECT \(unsafeRaw: Self.imageColumns), p.id AS member_id, p.project_id, p.original_name, p.added_at,
                p.review_state FROM project_images p JOIN images i ON i.sha256 = p.sha256
                WHERE p.project_id = \(bind: projectID)
                """
            if let cursor { query += " AND p.id < \(bind: cursor)" }
            query += Self.matching(filter)
            query += " ORDER BY p.id DESC LIMIT \(bind: limit + 1)"
            let rows = try await db.raw(query).all()
            let page = Array(rows.prefix(limit))
            let sha256s = try page.map { try $0.decode(column: "sha256", as: String.self) }
            let labels = try await Self.labels(projectID: projectID, sha256s: sha256s, on: db)
            let items = try page.map { row in
                try Self.projectImage(row, labels: labels[try row.decode(column: "sha256", as: String.self)] ?? [])
            }
            let next = rows.count > limit ? try page.last?.decode(column: "member_id", as: Int64.self) : nil
            return ImagePage(items: items, nextCursor: next)
        }
    }

    public func count(projectID: Int64, filter: ImageFilter) async throws -> Int {
        try await database.withConnection { db in
            var query: SQLQueryString = """
                SELECT COUNT(*) AS n FROM project_images p JOIN images i ON i.sha256 = p.sha256
                WHERE p.project_id = \(bind: projectID)
                """
            query += Self.matching(filter)
            return try await db.raw(query).first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// The conditions of `filter` on `p` (project_images) and `i` (images).
    static func matching(_ filter: ImageFilter) -> SQLQueryString {
        var query: SQLQueryString = ""
        if let label = filter.label {
            query +=
                " AND EXISTS (SELECT 1 FROM labels l WHERE l.project_id = p.project_id AND l.sha256 = p.sha256 AND l.name = \(bind: label))"
        }
        if let label = filter.modelLabel { query += Self.modelLabelled(label) }
        if let threshold = filter.hideFlaggedAbove {
            query += " AND (i.moderation IS NULL OR i.moderation <= \(bind: threshold) OR p.reviewed_at IS NOT NULL)"
        }
        if let review = filter.review { query += " AND p.review_state = \(bind: review.rawValue)" }
        if filter.onlyAccepted { query += " AND p.review_state = 'accepted'" }
        if let link = filter.linkID { query += " AND p.link_id = \(bind: link)" }
        return query
    }

    public func memberships(sha256: String) async throws -> [ImageMembership] {
        try await database.withConnection { db in
            let rows = try await db.raw(
                """
                SELECT p.project_id, pr.name, p.added_at, p.reviewed_at, pr.moderation_threshold, p.review_state
                FROM project_images p JOIN projects pr ON pr.id = p.project_id
                WHERE p.sha256 = \(bind: sha256) ORDER BY p.project_id
                """
            ).all()
            var result: [ImageMembership] = []
            for row in rows {
                let projectID = try row.decode(column: "project_id", as: Int64.self)
                let labels = try await Self.labels(projectID: projectID, sha256s: [sha256], on: db)
                result.append(
                    ImageMembership(
                        projectID: projectID, projectName: try row.decode(column: "name", as: String.self),
                        labels: labels[sha256] ?? [],
                        addedAt: Clock.date(milliseconds: try row.decode(column: "added_at", as: Int64.self)),
                        moderationThreshold: try row.decode(column: "moderation_threshold", as: Double?.self),
                        reviewed: try row.decode(column: "reviewed_at", as: Int64?.self) != nil,
                        reviewState: ReviewState(rawValue: try row.decode(column: "review_state", as: String.self))
                            ?? .accepted))
            }
            return result
        }
    }

    public func removeLabels(_ names: [String], from sha256: String, in projectID: Int64) async throws {
        guard !names.isEmpty else { return }
        try await database.transaction { db in
            for name in names {
                try await db.raw(
                    """
                    DELETE FROM labels WHERE project_id = \(bind: projectID) AND sha256 = \(bind: sha256)
                    AND name = \(bind: name) AND source = 'human'
                    """
                ).run()
            }
        }
    }

    public func remove(sha256: String, from projectID: Int64) async throws -> Bool {
        try await database.transaction { db in
            guard
                try await db.raw(
                    "SELECT id FROM project_images WHERE project_id = \(bind: projectID) AND sha256 = \(bind: sha256)"
                ).first() != nil
            else { throw StoreError.notFound("project \(projectID) holds no image \(sha256)") }
            try await db.raw("DELETE FROM labels WHERE project_id = \(bind: projectID) AND sha256 = \(bind: sha256)")
                .run()
            try await db.raw(
                "DELETE FROM project_images WHERE project_id = \(bind: projectID) AND sha256 = \(bind: sha256)"
            ).run()
            return try await Self.deleteIfUnreferenced(sha256, on: db)
        }
    }

    public func merge(_ others: [String], into keep: String, in projectID: Int64) async throws -> [String] {
        try await database.transaction { db in
            for sha256 in [keep] + others {
                guard
                    let row = try await db.raw(
                        """
                        SELECT review_state FROM project_images WHERE project_id = \(bind: projectID) AND sha256 = \(bind: sha256)
                        """
                    ).first()
                else { throw StoreError.notFound("project \(projectID) holds no image \(sha256)") }
                // Photos waiting for review, or rejected, take no part in merges.
                let state = try row.decode(column: "review_state", as: String.self)
                guard state == ReviewState.accepted.rawValue else {
                    throw StoreError.conflict(
                        "image \(sha256) is \(state) in review: decide on it first", field: "remove")
                }
            }
            var orphans: [String] = []
            for sha256 in others {
                try await db.raw(
                    """
                    INSERT INTO labels (project_id, sha256, name, source, confidence, created_at)
                    SELECT project_id, \(bind: keep), name, source, confidence, created_at FROM labels
                    WHERE project_id = \(bind: projectID) AND sha256 = \(bind: sha256)
                    ON CONFLICT (project_id, sha256, name, source) DO NOTHING
                    """
                ).run()
                try await db.raw(
                    "DELETE FROM labels WHERE project_id = \(bind: projectID) AND sha256 = \(bind: sha256)"
                )
                .run()
                try await db.raw(
                    "DELETE FROM project_images WHERE project_id = \(bind: projectID) AND sha256 = \(bind: sha256)"
                ).run()
                if try await Self.deleteIfUnreferenced(sha256, on: db) { orphans.append(sha256) }
            }
            return orphans
        }
    }

    public func present(_ sha256s: [String], in projectID: Int64) async throws -> Set<String> {
        guard !sha256s.isEmpty else { return [] }
        return try await database.withConnection { db in
            var found: Set<String> = []
            // In slices, so no statement carries more parameters than SQLite allows.
            for slice in sha256s.chunked(500) {
                for row in try await db.raw(
                    """
                    SELECT sha256 FROM project_images
                    WHERE project_id = \(bind: projectID) AND sha256 IN (\(binds: slice))
                    """
                ).all() {
                    found.insert(try row.decode(column: "sha256", as: String.self))
                }
            }
            return found
        }
    }

    public func originalNames(_ photos: [(sha256: String, projectID: Int64)]) async throws -> [String: String] {
        guard !photos.isEmpty else { return [:] }
        let wanted = Dictionary(photos.map { ($0.sha256, $0.projectID) }, uniquingKeysWith: { first, _ in first })
        return try await database.withConnection { db in
            var names: [String: String] = [:]
            for slice in Array(wanted.keys).chunked(500) {
                for row in try await db.raw(
                    """
                    SELECT sha256, project_id, original_name FROM project_images
                    WHERE sha256 IN (\(binds: slice)) AND original_name IS NOT NULL
                    """
                ).all() {
                    let sha256 = try row.decode(column: "sha256", as: String.self)
                    if try wanted[sha256] == row.decode(column: "project_id", as: Int64.self) {
                        names[sha256] = try row.decode(column: "original_name", as: String.self)
                    }
                }
            }
            return names
        }
    }

    public func allSHA256() async throws -> [String] {
        try await database.withConnection { db in
            try await db.raw("SELECT sha256 FROM images ORDER BY sha256").all().map {
                try $0.decode(column: "sha256", as: String.self)
            }
        }
    }

    public func page(after cursor: String?, limit: Int) async throws -> [(sha256: String, projectID: Int64)] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT sha256, MIN(project_id) AS project_id FROM project_images WHERE sha256 > \(bind: cursor ?? "")
                GROUP BY sha256 ORDER BY sha256 LIMIT \(bind: limit)
                """
            ).all().map {
                (try $0.decode(column: "sha256", as: String.self), try $0.decode(column: "project_id", as: Int64.self))
            }
        }
    }

    /// ` AND` a model gave the membership `p`'s image this label (galleries and search filters).
    static func modelLabelled(_ label: String) -> SQLQueryString {
        " AND EXISTS (SELECT 1 FROM model_labels m WHERE m.sha256 = p.sha256 AND m.label = \(bind: label))"
    }

    /// Deletes the image row when no project holds the image; answers whether it did.
    static func deleteIfUnreferenced(_ sha256: String, on db: any SQLDatabase) async throws -> Bool {
        guard try await db.raw("SELECT id FROM project_images WHERE sha256 = \(bind: sha256)").first() == nil else {
            return false
        }
        for table in ["analyses", "model_labels", "embeddings", "perceptual_hashes"] {
            try await db.raw("DELETE FROM \(unsafeRaw: table) WHERE sha256 = \(bind: sha256)").run()
        }
        try await db.raw("DELETE FROM images WHERE sha256 = \(bind: sha256)").run()
        return true
    }

    static func labels(projectID: Int64, sha256s: [String], on db: any SQLDatabase) async throws -> [String: [Label]] {
        guard !sha256s.isEmpty else { return [:] }
        let rows = try await db.raw(
            """
            SELECT sha256, name, source, confidence FROM labels
            WHERE project_id = \(bind: projectID) AND sha256 IN (\(binds: sha256s))
            ORDER BY name, source
            """
        ).all()
        var result: [String: [Label]] = [:]
        for row in rows {
            let label = Label(
                name: try row.decode(column: "name", as: String.self),
                source: try row.decode(column: "source", as: String.self),
                confidence: try row.decode(column: "confidence", as: Double?.self))
            result[try row.decode(column: "sha256", as: String.self), default: []].append(label)
        }
        return result
    }

    static func image(_ row: any SQLRow) throws -> ImageRecord {
        let formatName = try row.decode(column: "format", as: String.self)
        guard let format = ImageFormat(rawValue: formatName) else {
            throw StoreError.inconsistent("the database holds an unknown image format \(formatName)")
        }
        return ImageRecord(
            sha256: try row.decode(column: "sha256", as: String.self),
            format: format,
            width: Int(try row.decode(column: "width", as: Int64.self)),
            height: Int(try row.decode(column: "height", as: Int64.self)),
            bytes: try row.decode(column: "bytes", as: Int64.self),
            capturedAt: try row.decode(column: "captured_at", as: Int64?.self).map(Clock.date(milliseconds:)),
            createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)),
            moderation: try row.decode(column: "moderation", as: Double?.self)
        )
    }

    static func projectImage(_ row: any SQLRow, labels: [Label]) throws -> ProjectImage {
        var member = ProjectImage(
            image: try image(row),
            projectID: try row.decode(column: "project_id", as: Int64.self),
            labels: labels,
            originalName: try row.decode(column: "original_name", as: String?.self),
            addedAt: Clock.date(milliseconds: try row.decode(column: "added_at", as: Int64.self))
        )
        member.review = ReviewState(rawValue: try row.decode(column: "review_state", as: String.self)) ?? .accepted
        return member
    }
}
