public import Foundation
public import IrisCore
import SQLKit

/// Upload links: created and revoked by owners, used by whoever holds the code.
public protocol UploadLinkRepository: Sendable {
    func create(
        projectID: Int64, codeHash: String, name: String, labelChoices: [String]?, expiresAt: Date?, maxUploads: Int64?,
        createdBy: Int64?
    ) async throws -> UploadLink
    func find(codeHash: String) async throws -> UploadLink?
    func list(projectID: Int64) async throws -> [UploadLink]
    /// Answers whether a live link of the project was revoked.
    func revoke(id: Int64, projectID: Int64) async throws -> Bool
    /// Takes one upload from the link's allowance, atomically; nil when the link cannot take one.
    func reserveUpload(id: Int64) async throws -> UploadLink?
    /// Gives back an upload that failed.
    func releaseUpload(id: Int64) async throws
}

/// `UploadLinkRepository` in SQL, for SQLite and PostgreSQL alike.
public struct SQLUploadLinkRepository: UploadLinkRepository {
    let database: IrisDatabase

    public init(database: IrisDatabase) { self.database = database }

    static let columns = "id, project_id, name, label_choices, expires_at, max_uploads, uploads, revoked_at, created_at"

    public func create(
        projectID: Int64, codeHash: String, name: String, labelChoices: [String]?, expiresAt: Date?, maxUploads: Int64?,
        createdBy: Int64?
    ) async throws -> UploadLink {
        let choices = try labelChoices.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try await database.transaction { db in
            guard
                let row = try await db.raw(
                    """
                    INSERT INTO upload_links (project_id, code_hash, name, label_choices, expires_at, max_uploads, uploads, created_by, created_at)
                    VALUES (\(bind: projectID), \(bind: codeHash), \(bind: name), \(bind: choices), \(bind: expiresAt.map(Clock.milliseconds)),
                    \(bind: maxUploads), 0, \(bind: createdBy), \(bind: Clock.nowMilliseconds()))
                    RETURNING \(unsafeRaw: Self.columns)
                    """
                ).first()
            else { throw StoreError.inconsistent("the new link vanished") }
            return try Self.link(row)
        }
    }

    public func find(codeHash: String) async throws -> UploadLink? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM upload_links WHERE code_hash = \(bind: codeHash)")
                .first().map(Self.link)
        }
    }

    public func list(projectID: Int64) async throws -> [UploadLink] {
        try await database.withConnection { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM upload_links WHERE project_id = \(bind: projectID) ORDER BY id"
            ).all().map(Self.link)
        }
    }

    public func revoke(id: Int64, projectID: Int64) async throws -> Bool {
        try await database.transaction { db in
            try await db.raw(
                """
                UPDATE upload_links SET revoked_at = \(bind: Clock.nowMilliseconds())
                WHERE id = \(bind: id) AND project_id = \(bind: projectID) AND revoked_at IS NULL RETURNING id
                """
            ).first() != nil
        }
    }

    public func reserveUpload(id: Int64) async throws -> UploadLink? {
        try await database.transaction { db in
            try await db.raw(
                """
                UPDATE upload_links SET uploads = uploads + 1
                WHERE id = \(bind: id) AND revoked_at IS NULL
                AND (expires_at IS NULL OR expires_at > \(bind: Clock.nowMilliseconds()))
                AND (max_uploads IS NULL OR uploads < max_uploads)
                RETURNING \(unsafeRaw: Self.columns)
                """
            ).first().map(Self.link)
        }
    }

    public func releaseUpload(id: Int64) async throws {
        try await database.transaction { db in
            try await db.raw("UPDATE upload_links SET uploads = uploads - 1 WHERE id = \(bind: id) AND uploads > 0")
                .run()
        }
    }

    static func link(_ row: any SQLRow) throws -> UploadLink {
        let choices = try row.decode(column: "label_choices", as: String?.self)
        return UploadLink(
            id: try row.decode(column: "id", as: Int64.self),
            projectID: try row.decode(column: "project_id", as: Int64.self),
            name: try row.decode(column: "name", as: String.self),
            labelChoices: try choices.map { try JSONDecoder().decode([String].self, from: Data($0.utf8)) },
            expiresAt: try row.decode(column: "expires_at", as: Int64?.self).map(Clock.date(milliseconds:)),
            maxUploads: try row.decode(column: "max_uploads", as: Int64?.self),
            uploads: try row.decode(column: "uploads", as: Int64.self),
            revokedAt: try row.decode(column: "revoked_at", as: Int64?.self).map(Clock.date(milliseconds:)),
            createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }
}
