public import Foundation
import SQLKit

/// A report kept for a project: its body (JSON), when it was computed and from what.
public struct StoredReport: Sendable, Equatable {
    public var fingerprint: String
    public var computedAt: Date
    public var body: String

    public init(fingerprint: String, computedAt: Date, body: String) {
        (self.fingerprint, self.computedAt, self.body) = (fingerprint, computedAt, body)
    }
}

/// Reports computed from a project's photos (the label check, the map), one per kind, kept
/// until the photos they were computed from change.
public protocol ReportRepository: Sendable {
    func load(projectID: Int64, kind: String) async throws -> StoredReport?
    /// Writes the report, replacing the kind's earlier one.
    func save(_ report: StoredReport, projectID: Int64, kind: String) async throws
    /// What the project's reports depend on, as one string that changes when they may: its
    /// members (how many, the newest), their labels (every edit bumps a version), review
    /// decisions, and how many of them have an embedding by `model`.
    func fingerprint(projectID: Int64, model: String) async throws -> String
}

public struct SQLReportRepository: ReportRepository {
    let database: IrisDatabase

    public init(database: IrisDatabase) { self.database = database }

    public func load(projectID: Int64, kind: String) async throws -> StoredReport? {
        try await database.withConnection { db in
            guard
                let row = try await db.raw(
                    """
                    SELECT fingerprint, computed_at, body FROM project_reports
                    WHERE project_id = \(bind: projectID) AND kind = \(bind: kind)
                    """
                ).first()
            else { return nil }
            return StoredReport(
                fingerprint: try row.decode(column: "fingerprint", as: String.self),
                computedAt: Clock.date(milliseconds: try row.decode(column: "computed_at", as: Int64.self)),
                body: try row.decode(column: "body", as: String.self))
        }
    }

    public func save(_ report: StoredReport, projectID: Int64, kind: String) async throws {
        try await database.transaction { db in
            try await db.raw(
                """
                INSERT INTO project_reports (project_id, kind, fingerprint, computed_at, body)
                VALUES (\(bind: projectID), \(bind: kind), \(bind: report.fingerprint),
                        \(bind: Clock.milliseconds(report.computedAt)), \(bind: report.body))
                ON CONFLICT (project_id, kind) DO UPDATE SET fingerprint = excluded.fingerprint,
                    computed_at = excluded.computed_at, body = excluded.body
                """
            ).run()
        }
    }

    public func fingerprint(projectID: Int64, model: String) async throws -> String {
        try await database.withConnection { db in
            guard
                let row = try await db.raw(
                    """
                    SELECT COUNT(*) AS members, CAST(COALESCE(SUM(label_version), 0) AS BIGINT) AS versions,
                           COALESCE(MAX(decided_at), 0) AS decided, COALESCE(MAX(id), 0) AS newest,
                           (SELECT COUNT(*) FROM embeddings e JOIN project_images m ON m.sha256 = e.sha256
                            WHERE m.project_id = \(bind: projectID) AND e.model = \(bind: model)) AS embedded
                    FROM project_images WHERE project_id = \(bind: projectID)
                    """
                ).first()
            else { return "" }
            let parts = try ["members", "versions", "decided", "newest", "embedded"].map {
                String(try row.decode(column: $0, as: Int64.self))
            }
            return ([model] + parts).joined(separator: ":")
        }
    }
}
