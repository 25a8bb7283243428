import Foundation
public import IrisCore
import SQLKit

/// Changes to a project; nil fields are left as they are. `labelSet: .some(nil)` clears it.
public struct ProjectPatch: Sendable {
    public var name: String?
    public var description: String?
    public var labelSet: [String]??
    /// `.some(nil)` goes back to the server's `moderation.threshold`.
    public var moderationThreshold: Double??
    public var repairDomain: Bool?
    public var review: ReviewPolicy?
    public var rejectRetentionDays: Int?

    public init(
        name: String? = nil, description: String? = nil, labelSet: [String]?? = nil,
        moderationThreshold: Double?? = nil,
        repairDomain: Bool? = nil
    ) {
        self.name = name
        self.description = description
        self.labelSet = labelSet
        self.moderationThreshold = moderationThreshold
        self.repairDomain = repairDomain
    }
}

/// Projects: create, list, read, change, delete.
public protocol ProjectRepository: Sendable {
    /// Creates a project, owned by `owner` when one is given, in one transaction; a taken
    /// name is a 409.
    func create(name: String, description: String, labelSet: [String]?, owner: Int64?) async throws -> Project
    /// Projects in id order, after `cursor` when given; only those in `only` when it is given.
    func list(after cursor: Int64?, limit: Int, only: [Int64]?) async throws -> [Project]
    func find(id: Int64) async throws -> Project?
    func find(name: String) async throws -> Project?
    /// Applies a patch; a missing project is a 404, a taken name a 409.
    func update(id: Int64, _ patch: ProjectPatch) async throws -> Project
    /// Deletes the project with its memberships and labels. Returns the SHA-256 of images
    /// no project holds any more: their rows are gone and their blobs are the caller's to remove.
    func delete(id: Int64) async throws -> [String]
}

extension ProjectRepository {
    /// The project with `id`, or a not-found naming it: the lookup every project route starts with.
    public func require(id: Int64) async throws -> Project {
        guard let project = try await find(id: id) else { throw StoreError.notFound("no project has id \(id)") }
        return project
    }
}

/// `ProjectRepository` in SQL, for SQLite and PostgreSQL alike.
public struct SQLProjectRepository: ProjectRepository {
    let database: IrisDatabase
    static let columns =
        "id, name, description, label_set, moderation_threshold, repair_domain, review, reject_retention_days, created_at, updated_at"

    public init(database: IrisDatabase) { self.database = database }

    public func create(name: String, description: String, labelSet: [String]?, owner: Int64?) async throws -> Project {
        let now = Clock.nowMilliseconds()
        let labels = try Self.encode(labelSet)
        return try await database.transaction { db in
            if try await db.raw("SELECT id FROM projects WHERE name = \(bind: name)").first() != nil {
                throw StoreError.conflict("a project named \"\(name)\" already exists", field: "name")
            }
            guard
                let row = try await db.raw(
                    """
                    INSERT INTO projects (name, description, label_set, created_at, updated_at)
                    VALUES (\(bind: name), \(bind: description), \(bind: labels), \(bind: now), \(bind: now))
                    RETURNING \(unsafeRaw: Self.columns)
                    """
                ).first()
            else { throw StoreError.inconsistent("the database returned no row for the new project") }
            let project = try Self.project(row)
            if let owner {
                try await SQLAccountRepository.replaceRole(projectID: project.id, userID: owner, .owner, on: db)
            }
            return project
        }
    }

    public func list(after cursor: Int64?, limit: Int, only: [Int64]?) async throws -> [Project] {
        if let only, only.isEmpty { return [] }
        return try await database.withConnection { db in
            var query: SQLQueryString =
                "SELECT \(unsafeRaw: Self.columns) FROM projects WHERE id > \(bind: cursor ?? 0)"
            if let only { query += " AND id IN (\(binds: only))" }
            query += " ORDER BY id LIMIT \(bind: limit)"
            return try await db.raw(query).all().map(Self.project)
        }
    }

    public func find(id: Int64) async throws -> Project? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM projects WHERE id = \(bind: id)")
                .first().map(Self.project)
        }
    }

    public func find(name: String) async throws -> Project? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM projects WHERE name = \(bind: name)")
                .first().map(Self.project)
        }
    }

    public func update(id: Int64, _ patch: ProjectPatch) async throws -> Project {
        try await database.transaction { db in
            guard
                let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM projects WHERE id = \(bind: id)")
                    .first()
            else { throw StoreError.notFound("no project has id \(id)") }
            var project = try Self.project(row)
            if let name = patch.name, name != project.name {
                if try await db.raw("SELECT id FROM projects WHERE name = \(bind: name)").first() != nil {
                    throw StoreError.conflict("a project named \"\(name)\" already exists", field: "name")
                }
                project.name = name
            }
            if let description = patch.description { project.description = description }
            if let labelSet = patch.labelSet { project.labelSet = labelSet }
            if let threshold = patch.moderationThreshold { project.moderationThreshold = threshold }
            if let domain = patch.repairDomain { project.repairDomain = domain }
            if let review = patch.review { project.review = review }
            if let days = patch.rejectRetentionDays { project.rejectRetentionDays = days }
            let now = Clock.nowMilliseconds()
            try await db.raw(
                """
                UPDATE projects SET name = \(bind: project.name), description = \(bind: project.description),
                label_set = \(bind: try Self.encode(project.labelSet)), moderation_threshold = \(bind: project.moderationThreshold), repair_domain = \(bind: project.repairDomain ? 1 : 0), review = \(bind: project.review.rawValue),
                reject_retention_days = \(bind: Int64(project.rejectRetentionDays)), updated_at = \(bind: now) WHERE id = \(bind: id)
                """
            ).run()
            project.updatedAt = Clock.date(milliseconds: now)
            return project
        }
    }

    public func delete(id: Int64) async throws -> [String] {
        try await database.transaction { db in
            guard try await db.raw("SELECT id FROM projects WHERE id = \(bind: id)").first() != nil else {
                throw StoreError.notFound("no project has id \(id)")
            }
            let held = try await db.raw("SELECT sha256 FROM project_images WHERE project_id = \(bind: id)").all()
                .map { try $0.decode(column: "sha256", as: String.self) }
            try await db.raw("DELETE FROM labels WHERE project_id = \(bind: id)").run()
            try await db.raw("DELETE FROM project_images WHERE project_id = \(bind: id)").run()
            try await db.raw("DELETE FROM projects WHERE id = \(bind: id)").run()
            var orphans: [String] = []
            for sha256 in held where try await SQLImageRepository.deleteIfUnreferenced(sha256, on: db) {
                orphans.append(sha256)
            }
            return orphans
        }
    }

    static func encode(_ labelSet: [String]?) throws -> String? {
        guard let labelSet else { return nil }
        return String(decoding: try JSONEncoder().encode(labelSet), as: UTF8.self)
    }

    static func project(_ row: any SQLRow) throws -> Project {
        let labelText = try row.decode(column: "label_set", as: String?.self)
        let labelSet = try labelText.map { try JSONDecoder().decode([String].self, from: Data($0.utf8)) }
        var project = Project(
            id: try row.decode(column: "id", as: Int64.self),
            name: try row.decode(column: "name", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            labelSet: labelSet,
            moderationThreshold: try row.decode(column: "moderation_threshold", as: Double?.self),
            repairDomain: try row.decode(column: "repair_domain", as: Int64.self) != 0,
            createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Clock.date(milliseconds: try row.decode(column: "updated_at", as: Int64.self))
        )
        project.review = ReviewPolicy(rawValue: try row.decode(column: "review", as: String.self)) ?? .off
        project.rejectRetentionDays = Int(try row.decode(column: "reject_retention_days", as: Int64.self))
        return project
    }
}

extension ProjectRepository {
    /// A project nobody owns yet (imports from the command line, tests).
    public func create(name: String, description: String, labelSet: [String]?) async throws -> Project {
        try await create(name: name, description: description, labelSet: labelSet, owner: nil)
    }
}
