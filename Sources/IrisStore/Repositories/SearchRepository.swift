public import Foundation
import IrisCore
import SQLKit

/// What the in-memory search indexes load and follow: embeddings with the projects their
/// images are in, the change log the database's triggers keep (`search_changes`), and the
/// images a caller may not be shown.
public protocol SearchRepository: Sendable {
    /// The last change's id (0: none yet): where an index built now starts following.
    func lastChange() async throws -> Int64
    /// Changes after `id`, and any made in the last `window` seconds (on PostgreSQL a change
    /// may commit after one with a higher id; reading recent ones again catches it), oldest
    /// first, at most `limit`.
    func changes(after id: Int64, window: Double, limit: Int) async throws -> [(id: Int64, sha256: String)]
    /// The first change still kept (nil: none); an index behind it must be rebuilt.
    func firstChange() async throws -> Int64?
    /// Up to `limit` embeddings of `model` with hashes after `cursor`, in hash order (for loading).
    func embeddings(model: String, after cursor: String?, limit: Int) async throws -> [(
        sha256: String, vector: [Float]
    )]
    /// The embeddings of `model` these images have.
    func embeddings(model: String, sha256s: [String]) async throws -> [String: [Float]]
    /// The projects each image is in.
    func memberships(sha256s: [String]) async throws -> [String: [Int64]]
    /// Every membership of images that have an embedding of `model` (for loading), in pages.
    func memberships(model: String, after cursor: Int64, limit: Int) async throws
        -> [(id: Int64, sha256: String, projectID: Int64)]
    /// Images in `projects` hidden from viewers and contributors: a moderation score over their
    /// project's threshold (or `defaultThreshold`) and not reviewed there, or a review state
    /// other than accepted (pending, rejected).
    func hidden(in projects: [Int64], defaultThreshold: Double) async throws -> [(sha256: String, projectID: Int64)]
    /// Removes changes older than `date` (every index has applied them or will rebuild).
    func pruneChanges(before date: Date) async throws -> Int

    /// Model labels among `labels` on images in `projects` (nil: any project), best first, at most `limit`.
    func modelLabelHits(labels: [String], in projects: [Int64]?, limit: Int) async throws
        -> [(sha256: String, label: String, score: Double)]
    /// The distinct names of human and learner labels in `projects` (nil: all), at most `limit`.
    func labelNames(in projects: [Int64]?, limit: Int) async throws -> [String]
    /// Images carrying a label named one of `names` in `projects` (nil: any).
    func labelHits(names: [String], in projects: [Int64]?, limit: Int) async throws
        -> [(sha256: String, projectID: Int64, name: String)]
    /// The stored results of `models` whose text holds `fragment`'s words as a phrase (whole
    /// words, any case; from the full-text index), on images in `projects` (nil: any), at most `limit`.
    func textHits(models: [String], containing fragment: String, in projects: [Int64]?, limit: Int) async throws
        -> [(sha256: String, result: String)]

    /// Of these images, the memberships in `projects` (nil: any) that pass `filter`: image →
    /// the projects where it does.
    func passing(_ sha256s: [String], in projects: [Int64]?, filter: SearchFilter, defaultThreshold: Double)
        async throws -> [String: Set<Int64>]
    /// Up to `limit` accepted images of a project (review: pending and rejected ones take no
    /// part in duplicates), oldest member first, with their pixel counts.
    func members(of projectID: Int64, limit: Int) async throws -> [(sha256: String, pixels: Int64)]
    /// The difference hashes stored for these images.
    func perceptualHashes(sha256s: [String]) async throws -> [String: UInt64]
    /// Stores an image's difference hash (nothing when the image is gone or it has one).
    func savePerceptualHash(sha256: String, hash: UInt64) async throws
}

/// What a search's results may be narrowed to (every part optional; all must hold).
public struct SearchFilter: Sendable, Equatable {
    /// A human or learner label of this name (any case) in the project.
    public var label: String?
    /// A model gave the image this label (the whole label line, as stored).
    public var modelLabel: String?
    /// Taken (its EXIF date, else when it was added to the project) at or after / before.
    public var from: Date?
    public var to: Date?
    /// Only flagged images (true) or only unflagged ones (false), by the project's threshold.
    public var flagged: Bool?

    public init(
        label: String? = nil, modelLabel: String? = nil, from: Date? = nil, to: Date? = nil, flagged: Bool? = nil
    ) {
        (self.label, self.modelLabel, self.from, self.to, self.flagged) = (label, modelLabel, from, to, flagged)
    }

    public var isEmpty: Bool { self == SearchFilter() }
}

public struct SQLSearchRepository: SearchRepository {
    let database: IrisDatabase

    public init(database: IrisDatabase) { self.database = database }

    public func lastChange() async throws -> Int64 {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT MAX(id) AS last FROM search_changes").first(),
                try !row.decodeNil(column: "last")
            else { return 0 }
            return try row.decode(column: "last", as: Int64.self)
        }
    }

    public func firstChange() async throws -> Int64? {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT MIN(id) AS first FROM search_changes").first(),
                try !row.decodeNil(column: "first")
            else { return nil }
            return try row.decode(column: "first", as: Int64.self)
        }
    }

    public func changes(after id: Int64, window: Double, limit: Int) async throws -> [(id: Int64, sha256: String)] {
        let since = Clock.milliseconds(Date().addingTimeInterval(-window))
        return try await database.withConnection { db in
            try await db.raw(
                """
                SELECT id, sha256 FROM search_changes WHERE id > \(bind: id) OR created_at > \(bind: since)
                ORDER BY id LIMIT \(bind: limit)
                """
            ).all().map {
                (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "sha256", as: String.self))
            }
        }
    }

    public func embeddings(model: String, after cursor: String?, limit: Int) async throws
        -> [(sha256: String, vector: [Float])]
    {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT sha256, vector FROM embeddings WHERE model = \(bind: model) AND sha256 > \(bind: cursor ?? "")
                ORDER BY sha256 LIMIT \(bind: limit)
                """
            ).all().compactMap { row in
                guard let vector = Embedding.decode(try row.decode(column: "vector", as: String.self)) else {
                    return nil
                }
                return (try row.decode(column: "sha256", as: String.self), vector)
            }
        }
    }

    public func embeddings(model: String, sha256s: [String]) async throws -> [String: [Float]] {
        guard !sha256s.isEmpty else { return [:] }
        return try await database.withConnection { db in
            var found: [String: [Float]] = [:]
            for chunk in sha256s.chunked() {
                for row in try await db.raw(
                    "SELECT sha256, vector FROM embeddings WHERE model = \(bind: model) AND sha256 IN (\(binds: chunk))"
                ).all() {
                    found[try row.decode(column: "sha256", as: String.self)] = Embedding.decode(
                        try row.decode(column: "vector", as: String.self))
                }
            }
            return found
        }
    }

    public func memberships(sha256s: [String]) async throws -> [String: [Int64]] {
        guard !sha256s.isEmpty else { return [:] }
        return try await database.withConnection { db in
            var found: [String: [Int64]] = [:]
            for chunk in sha256s.chunked() {
                for row in try await db.raw(
                    "SELECT sha256, project_id FROM project_images WHERE sha256 IN (\(binds: chunk))"
                ).all() {
                    found[try row.decode(column: "sha256", as: String.self), default: []].append(
                        try row.decode(column: "project_id", as: Int64.self))
                }
            }
            return found
        }
    }

    public func memberships(model: String, after cursor: Int64, limit: Int) async throws
        -> [(id: Int64, sha256: String, projectID: Int64)]
    {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT p.id, p.sha256, p.project_id FROM project_images p
                WHERE p.id > \(bind: cursor)
                  AND EXISTS (SELECT 1 FROM embeddings e WHERE e.sha256 = p.sha256 AND e.model = \(bind: model))
                ORDER BY p.id LIMIT \(bind: limit)
                """
            ).all().map {
                (
                    try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "sha256", as: String.self),
                    try $0.decode(column: "project_id", as: Int64.self)
                )
            }
        }
    }

    public func hidden(in projects: [Int64], defaultThreshold: Double) async throws
        -> [(sha256: String, projectID: Int64)]
    {
        guard !projects.isEmpty else { return [] }
        return try await database.withConnection { db in
            try await db.raw(
                """
                SELECT p.sha256, p.project_id FROM project_images p
                JOIN images i ON i.sha256 = p.sha256
                JOIN projects r ON r.id = p.project_id
                WHERE p.project_id IN (\(binds: projects)) AND ((p.reviewed_at IS NULL AND i.moderation IS NOT NULL
                  AND i.moderation > COALESCE(r.moderation_threshold, \(bind: defaultThreshold)))
                  OR p.review_state <> 'accepted')
                """
            ).all().map {
                (try $0.decode(column: "sha256", as: String.self), try $0.decode(column: "project_id", as: Int64.self))
            }
        }
    }

    public func pruneChanges(before date: Date) async throws -> Int {
        try await database.withConnection { db in
            let cutoff = Clock.milliseconds(date)
            let count =
                try await db.raw("SELECT COUNT(*) AS n FROM search_changes WHERE created_at < \(bind: cutoff)").first()?
                .decode(column: "n", as: Int.self) ?? 0
            try await db.raw("DELETE FROM search_changes WHERE created_at < \(bind: cutoff)").run()
            return count
        }
    }

    /// `AND EXISTS (a membership in projects)` for the image column `column`, or any membership.
    static func member(_ column: String, _ projects: [Int64]?) -> SQLQueryString {
        guard let projects else {
            return "EXISTS (SELECT 1 FROM project_images pm WHERE pm.sha256 = \(unsafeRaw: column))"
        }
        guard !projects.isEmpty else { return "1 = 0" }
        return
            "EXISTS (SELECT 1 FROM project_images pm WHERE pm.sha256 = \(unsafeRaw: column) AND pm.project_id IN (\(binds: projects)))"
    }

    public func modelLabelHits(labels: [String], in projects: [Int64]?, limit: Int) async throws
        -> [(sha256: String, label: String, score: Double)]
    {
        guard !labels.isEmpty else { return [] }
        return try await database.withConnection { db in
            try await db.raw(
                """
                SELECT ml.sha256, ml.label, ml.score FROM model_labels ml
                WHERE ml.label IN (\(binds: labels)) AND \(Self.member("ml.sha256", projects))
                ORDER BY ml.score DESC, ml.sha256 LIMIT \(bind: limit)
                """
            ).all().map {
                (
                    try $0.decode(column: "sha256", as: String.self), try $0.decode(column: "label", as: String.self),
                    try $0.decode(column: "score", as: Double.self)
                )
            }
        }
    }

    public func labelNames(in projects: [Int64]?, limit: Int) async throws -> [String] {
        try await database.withConnection { db in
            let filter: SQLQueryString =
                projects.map { $0.isEmpty ? "1 = 0" : "project_id IN (\(binds: $0))" } ?? "1 = 1"
            return try await db.raw(
                "SELECT DISTINCT name FROM labels WHERE \(filter) ORDER BY name LIMIT \(bind: limit)"
            ).all().map { try $0.decode(column: "name", as: String.self) }
        }
    }

    public func labelHits(names: [String], in projects: [Int64]?, limit: Int) async throws
        -> [(sha256: String, projectID: Int64, name: String)]
    {
        guard !names.isEmpty else { return [] }
        return try await database.withConnection { db in
            let filter: SQLQueryString =
                projects.map { $0.isEmpty ? "1 = 0" : "project_id IN (\(binds: $0))" } ?? "1 = 1"
            return try await db.raw(
                """
                SELECT sha256, project_id, name FROM labels WHERE name IN (\(binds: names)) AND \(filter)
                ORDER BY sha256 LIMIT \(bind: limit)
                """
            ).all().map {
                (
                    try $0.decode(column: "sha256", as: String.self),
                    try $0.decode(column: "project_id", as: Int64.self),
                    try $0.decode(column: "name", as: String.self)
                )
            }
        }
    }

    public func textHits(models: [String], containing fragment: String, in projects: [Int64]?, limit: Int)
        async throws -> [(sha256: String, result: String)]
    {
        let words = fragment.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
        guard !models.isEmpty, !words.isEmpty else { return [] }
        let dialect = database.dialect
        return try await database.withConnection { db in
            // The words as one phrase, from the full-text index of what the models read.
            let matching: SQLQueryString
            switch dialect {
            case .sqlite:
                let phrase = "\"" + words.joined(separator: " ") + "\""
                matching = """
                    SELECT r.sha256, r.model FROM analysis_text t JOIN analysis_text_rows r ON r.id = t.rowid
                    WHERE analysis_text MATCH \(bind: phrase)
                    """
            case .postgres:
                matching = """
                    SELECT t.sha256, t.model FROM analysis_text t
                    WHERE t.words @@ phraseto_tsquery('simple', \(bind: words.joined(separator: " ")))
                    """
            }
            return try await db.raw(
                """
                SELECT a.sha256, a.result FROM (\(matching)) m
                JOIN analyses a ON a.sha256 = m.sha256 AND a.model = m.model
                WHERE a.model IN (\(binds: models)) AND \(Self.member("a.sha256", projects))
                ORDER BY a.sha256 LIMIT \(bind: limit)
                """
            ).all().map {
                (try $0.decode(column: "sha256", as: String.self), try $0.decode(column: "result", as: String.self))
            }
        }
    }

    public func members(of projectID: Int64, limit: Int) async throws -> [(sha256: String, pixels: Int64)] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT p.sha256, i.width * i.height AS pixels FROM project_images p JOIN images i ON i.sha256 = p.sha256
                WHERE p.project_id = \(bind: projectID) AND p.review_state = 'accepted' ORDER BY p.id LIMIT \(bind: limit)
                """
            ).all().map {
                (try $0.decode(column: "sha256", as: String.self), try $0.decode(column: "pixels", as: Int64.self))
            }
        }
    }

    public func perceptualHashes(sha256s: [String]) async throws -> [String: UInt64] {
        guard !sha256s.isEmpty else { return [:] }
        return try await database.withConnection { db in
            var found: [String: UInt64] = [:]
            for chunk in sha256s.chunked() {
                for row in try await db.raw(
                    "SELECT sha256, dhash FROM perceptual_hashes WHERE sha256 IN (\(binds: chunk))"
                ).all() {
                    found[try row.decode(column: "sha256", as: String.self)] = UInt64(
                        bitPattern: try row.decode(column: "dhash", as: Int64.self))
                }
            }
            return found
        }
    }

    public func savePerceptualHash(sha256: String, hash: UInt64) async throws {
        try await database.withConnection { db in
            try await db.raw(
                """
                INSERT INTO perceptual_hashes (sha256, dhash, created_at)
                SELECT sha256, \(bind: Int64(bitPattern: hash)), \(bind: Clock.nowMilliseconds()) FROM images
                WHERE sha256 = \(bind: sha256)
                ON CONFLICT (sha256) DO NOTHING
                """
            ).run()
        }
    }

    public func passing(_ sha256s: [String], in projects: [Int64]?, filter: SearchFilter, defaultThreshold: Double)
        async throws -> [String: Set<Int64>]
    {
        guard !sha256s.isEmpty, projects?.isEmpty != true else { return [:] }
        return try await database.withConnection { db in
            var found: [String: Set<Int64>] = [:]
            for chunk in sha256s.chunked() {
                var query: SQLQueryString = """
                    SELECT p.sha256, p.project_id FROM project_images p
                    JOIN images i ON i.sha256 = p.sha256 JOIN projects r ON r.id = p.project_id
                    WHERE p.sha256 IN (\(binds: chunk))
                    """
                if let projects { query += " AND p.project_id IN (\(binds: projects))" }
                if let label = filter.label {
                    query +=
                        " AND EXISTS (SELECT 1 FROM labels l WHERE l.project_id = p.project_id AND l.sha256 = p.sha256 AND lower(l.name) = \(bind: label.lowercased()))"
                }
                if let label = filter.modelLabel { query += SQLImageRepository.modelLabelled(label) }
                if let from = filter.from {
                    query += " AND COALESCE(i.captured_at, p.added_at) >= \(bind: Clock.milliseconds(from))"
                }
                if let to = filter.to {
                    query += " AND COALESCE(i.captured_at, p.added_at) < \(bind: Clock.milliseconds(to))"
                }
                if let flagged = filter.flagged {
                    let over: SQLQueryString = """
                        (p.reviewed_at IS NULL AND i.moderation IS NOT NULL
                         AND i.moderation > COALESCE(r.moderation_threshold, \(bind: defaultThreshold)))
                        """
                    query += flagged ? " AND " : " AND NOT "
                    query += over
                }
                for row in try await db.raw(query).all() {
                    found[try row.decode(column: "sha256", as: String.self), default: []].insert(
                        try row.decode(column: "project_id", as: Int64.self))
                }
            }
            return found
        }
    }
}
