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
    /// The kept report's fingerprint and time only (not its body, which may be megabytes).
    func stamp(projectID: Int64, kind: String) async throws -> (fingerprint: String, computedAt: Int64)?
    /// Writes the report, replacing the kind's earlier one.
    func save(_ report: StoredReport, projectID: Int64, kind: String) async throws
    /// What the project's reports depend on: its members (how many, the newest), their labels
    /// (every edit bumps a version), review decisions, and how many have an embedding by `model`.
    func fingerprint(projectID: Int64, model: String) async throws -> ReportFingerprint
    /// Every member's review state and human labels, for drawing the map.
    func memberLabels(projectID: Int64) async throws -> [(sha256: String, review: String, labels: [String])]
}

public struct ReportFingerprint: Sendable, Equatable {
    public var model: String
    public var members: Int64
    public var labelVersions: Int64
    public var lastDecision: Int64
    public var newest: Int64
    public var embedded: Int64

    /// Changes with anything a label check reads.
    public var labels: String {
        [model, "\(members)", "\(labelVersions)", "\(lastDecision)", "\(newest)", "\(embedded)"].joined(separator: ":")
    }

    /// Changes with the photos and their embeddings only (what a layout reads).
    public var photos: String { [model, "\(members)", "\(newest)", "\(embedded)"].joined(separator: ":") }
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

    public func stamp(projectID: Int64, kind: String) async throws -> (fingerprint: String, computedAt: Int64)? {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT fingerprint, computed_at FROM project_reports
                WHERE project_id = \(bind: projectID) AND kind = \(bind: kind)
                """
            ).first().map {
                (
                    try $0.decode(column: "fingerprint", as: String.self),
                    try $0.decode(column: "computed_at", as: Int64.self)
                )
            }
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

    public func memberLabels(projectID: Int64) async throws -> [(sha256: String, review: String, labels: [String])] {
        try await database.withConnection { db in
            var members: [(sha256: String, review: String, labels: [String])] = []
            var position: [String: Int] = [:]
            for row in try await db.raw(
                """
                SELECT m.sha256, m.review_state, l.name FROM project_images m
                LEFT JOIN labels l ON l.project_id = m.project_id AND l.sha256 = m.sha256 AND l.source = 'human'
                WHERE m.project_id = \(bind: projectID) ORDER BY m.id, l.name
                """
            ).all() {
                let sha256 = try row.decode(column: "sha256", as: String.self)
                if position[sha256] == nil {
                    position[sha256] = members.count
                    members.append((sha256, try row.decode(column: "review_state", as: String.self), []))
                }
                if let name = try row.decode(column: "name", as: String?.self), let index = position[sha256] {
                    members[index].labels.append(name)
                }
            }
            return members
        }
    }

    public func fingerprint(projectID: Int64, model: String) async throws -> ReportFingerprint {
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
            else {
                return ReportFingerprint(
                    model: model, members: 0, labelVersions: 0, lastDecision: 0, newest: 0, embedded: 0)
            }
            return ReportFingerprint(
                model: model, members: try row.decode(column: "members", as: Int64.self),
                labelVersions: try row.decode(column: "versions", as: Int64.self),
                lastDecision: try row.decode(column: "decided", as: Int64.self),
                newest: try row.decode(column: "newest", as: Int64.self),
                embedded: try row.decode(column: "embedded", as: Int64.self))
        }
    }
}
