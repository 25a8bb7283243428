import Foundation
public import IrisCore
import SQLKit

/// The append-only audit log.
public protocol EventRepository: Sendable {
    @discardableResult
    func append(_ event: Event) async throws -> Event
    /// Events after `afterID`, oldest first; `projectIDs` nil means every event (admins),
    /// otherwise only events of those projects.
    func list(afterID: Int64, projectIDs: [Int64]?, limit: Int) async throws -> [Event]
    /// The newest `limit` events (newest first) of `projectIDs` (nil: all).
    func latest(projectIDs: [Int64]?, limit: Int) async throws -> [Event]
    /// The events `filter` lets through, newest first, ids below `before` (a keyset page).
    func latest(_ filter: EventFilter, before: Int64?, limit: Int) async throws -> [Event]
    /// The first event of `action` about `subject` in the project (e.g. a photo's upload).
    func first(_ action: String, projectID: Int64, subject: String) async throws -> Event?
}

/// Which events a page of the log holds: every condition that is set must hold.
public struct EventFilter: Sendable, Equatable {
    /// The projects whose events may be listed; nil means every event, those of no project
    /// too (administrators). A filter by project narrows this, never widens it.
    public var projectIDs: [Int64]?
    public var action: String?

    public init(projectIDs: [Int64]? = nil, action: String? = nil) {
        (self.projectIDs, self.action) = (projectIDs, action)
    }
}

/// `EventRepository` in SQL, for SQLite and PostgreSQL alike.
public struct SQLEventRepository: EventRepository {
    let database: IrisDatabase

    public init(database: IrisDatabase) { self.database = database }

    public func append(_ event: Event) async throws -> Event {
        let detail =
            event.detail.isEmpty ? nil : String(decoding: try JSONEncoder().encode(event.detail), as: UTF8.self)
        let now = Clock.nowMilliseconds()
        return try await database.transaction { db in
            guard
                let row = try await db.raw(
                    """
                    INSERT INTO events (actor_kind, actor_id, actor_name, action, project_id, subject, detail, created_at)
                    VALUES (\(bind: event.actorKind), \(bind: event.actorID), \(bind: event.actorName), \(bind: event.action),
                    \(bind: event.projectID), \(bind: event.subject), \(bind: detail), \(bind: now))
                    RETURNING id
                    """
                ).first()
            else { throw StoreError.inconsistent("the event was not recorded") }
            var stored = event
            stored.id = try row.decode(column: "id", as: Int64.self)
            stored.createdAt = Clock.date(milliseconds: now)
            return stored
        }
    }

    /// Appends `events` inside the caller's transaction (a change and its events commit
    /// together), 200 rows a statement.
    static func insert(_ events: [Event], at now: Int64, on db: any SQLDatabase) async throws {
        for batch in events.chunked(200) {
            var query: SQLQueryString = """
                INSERT INTO events (actor_kind, actor_id, actor_name, action, project_id, subject, detail, created_at) VALUES
                """
            for (index, event) in batch.enumerated() {
                let detail =
                    event.detail.isEmpty ? nil : String(decoding: try JSONEncoder().encode(event.detail), as: UTF8.self)
                query += index == 0 ? "" : ","
                query += """
                     (\(bind: event.actorKind), \(bind: event.actorID), \(bind: event.actorName), \(bind: event.action),
                    \(bind: event.projectID), \(bind: event.subject), \(bind: detail), \(bind: now))
                    """
            }
            try await db.raw(query).run()
        }
    }

    /// Appends one event per row of `rows` inside the caller's transaction, by one
    /// `INSERT … SELECT`: `template`'s actor and action (the log's `AuditLog.template`), each
    /// row's `project_id`, `subject` and `detail` (JSON text). A change of ten thousand photos
    /// writes its events without a row passing through Swift. Ordered by subject.
    static func insert(_ template: Event, forEach rows: SQLQueryString, at now: Int64, on db: any SQLDatabase)
        async throws
    {
        try await db.raw(
            """
            INSERT INTO events (actor_kind, actor_id, actor_name, action, project_id, subject, detail, created_at)
            SELECT \(bind: template.actorKind), \(bind: template.actorID), \(bind: template.actorName),
            \(bind: template.action), r.project_id, r.subject, r.detail, \(bind: now)
            FROM (\(rows)) r ORDER BY r.subject
            """
        ).run()
    }

    public func list(afterID: Int64, projectIDs: [Int64]?, limit: Int) async throws -> [Event] {
        try await query(afterID: afterID, projectIDs: projectIDs, limit: limit, newestFirst: false)
    }

    public func latest(projectIDs: [Int64]?, limit: Int) async throws -> [Event] {
        try await query(afterID: 0, projectIDs: projectIDs, limit: limit, newestFirst: true)
    }

    public func latest(_ filter: EventFilter, before: Int64?, limit: Int) async throws -> [Event] {
        try await query(
            afterID: 0, projectIDs: filter.projectIDs, action: filter.action, before: before, limit: limit,
            newestFirst: true)
    }

    public func first(_ action: String, projectID: Int64, subject: String) async throws -> Event? {
        let id = try await database.withConnection { db in
            try await db.raw(
                """
                SELECT MIN(id) AS id FROM events WHERE project_id = \(bind: projectID) AND subject = \(bind: subject)
                AND action = \(bind: action)
                """
            ).first()?.decode(column: "id", as: Int64?.self)
        }
        guard let id else { return nil }
        return try await list(afterID: id - 1, projectIDs: [projectID], limit: 1).first { $0.id == id }
    }

    private func query(
        afterID: Int64, projectIDs: [Int64]?, action: String? = nil, before: Int64? = nil, limit: Int,
        newestFirst: Bool
    ) async throws -> [Event] {
        if let projectIDs, projectIDs.isEmpty { return [] }
        return try await database.withConnection { db in
            var query: SQLQueryString = """
                SELECT id, actor_kind, actor_id, actor_name, action, project_id, subject, detail, created_at FROM events
                WHERE id > \(bind: afterID)
                """
            if let before { query += " AND id < \(bind: before)" }
            if let projectIDs { query += " AND project_id IN (\(binds: projectIDs))" }
            if let action { query += " AND action = \(bind: action)" }
            query += newestFirst ? " ORDER BY id DESC LIMIT \(bind: limit)" : " ORDER BY id LIMIT \(bind: limit)"
            return try await db.raw(query).all().map { row in
                let detail =
                    try row.decode(column: "detail", as: String?.self)
                    .map { try JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
                return Event(
                    actorKind: try row.decode(column: "actor_kind", as: String.self),
                    actorID: try row.decode(column: "actor_id", as: Int64?.self),
                    actorName: try row.decode(column: "actor_name", as: String.self),
                    action: try row.decode(column: "action", as: String.self),
                    projectID: try row.decode(column: "project_id", as: Int64?.self),
                    subject: try row.decode(column: "subject", as: String?.self),
                    detail: detail,
                    id: try row.decode(column: "id", as: Int64.self),
                    createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)))
            }
        }
    }
}
