import Foundation
public import IrisCore
import SQLKit

/// Webhook subscriptions, and the dispatcher's walk over the event log.
public protocol WebhookRepository: Sendable {
    func create(projectID: Int64, url: String, secret: String, eventTypes: [String], createdBy: Int64?) async throws
        -> Webhook
    func find(id: Int64) async throws -> Webhook?
    func list(projectID: Int64) async throws -> [Webhook]
    /// Answers whether the project had such a webhook.
    func delete(id: Int64, projectID: Int64) async throws -> Bool
    /// Reads events past the dispatcher's cursor and enqueues one delivery job per
    /// (matching webhook, event), advancing the cursor in the same transaction: every
    /// event is dispatched once, whichever process gets there first. Answers how many
    /// deliveries were enqueued.
    func dispatch(batch: Int, queue: String, maxAttempts: Int) async throws -> Int
}

/// `WebhookRepository` in SQL, for SQLite and PostgreSQL alike.
public struct SQLWebhookRepository: WebhookRepository {
    let database: IrisDatabase
    static let columns = "id, project_id, url, secret, event_types, active, created_by, created_at"
    static let cursor = "webhooks.dispatched"

    public init(database: IrisDatabase) { self.database = database }

    public func create(projectID: Int64, url: String, secret: String, eventTypes: [String], createdBy: Int64?)
        async throws -> Webhook
    {
        try await database.transaction { db in
            // Deliveries start from now: events before the subscription are not sent.
            try await Self.cursorPosition(db, dialect: database.dialect)
            guard
                let row = try await db.raw(
                    """
                    INSERT INTO webhooks (project_id, url, secret, event_types, active, created_by, created_at)
                    VALUES (\(bind: projectID), \(bind: url), \(bind: secret), \(bind: eventTypes.joined(separator: ",")), 1, \(bind: createdBy),
                    \(bind: Clock.nowMilliseconds()))
                    RETURNING \(unsafeRaw: Self.columns)
                    """
                ).first()
            else { throw StoreError.inconsistent("the new webhook vanished") }
            return try Self.webhook(row)
        }
    }

    public func find(id: Int64) async throws -> Webhook? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM webhooks WHERE id = \(bind: id)").first().map(
                Self.webhook)
        }
    }

    public func list(projectID: Int64) async throws -> [Webhook] {
        try await database.withConnection { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM webhooks WHERE project_id = \(bind: projectID) ORDER BY id"
            ).all().map(Self.webhook)
        }
    }

    public func delete(id: Int64, projectID: Int64) async throws -> Bool {
        try await database.transaction { db in
            try await db.raw(
                "DELETE FROM webhooks WHERE id = \(bind: id) AND project_id = \(bind: projectID) RETURNING id"
            ).first() != nil
        }
    }

    public func dispatch(batch: Int, queue: String, maxAttempts: Int) async throws -> Int {
        let dialect = database.dialect
        return try await database.transaction { db in
            let position = try await Self.cursorPosition(db, dialect: dialect)
            let events = try await db.raw(
                """
                SELECT id, project_id, action FROM events WHERE id > \(bind: position) ORDER BY id LIMIT \(bind: batch)
                """
            ).all()
            guard let last = try events.last?.decode(column: "id", as: Int64.self) else { return 0 }
            let projectIDs = Set(try events.compactMap { try $0.decode(column: "project_id", as: Int64?.self) })
            var hooks: [Int64: [Webhook]] = [:]
            if !projectIDs.isEmpty {
                let rows = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.columns) FROM webhooks WHERE active <> 0 AND project_id IN (\(binds: Array(projectIDs)))
                    """
                ).all()
                for hook in try rows.map(Self.webhook) { hooks[hook.projectID, default: []].append(hook) }
            }
            var enqueued = 0
            for event in events {
                guard let projectID = try event.decode(column: "project_id", as: Int64?.self) else { continue }
                let eventID = try event.decode(column: "id", as: Int64.self)
                let action = try event.decode(column: "action", as: String.self)
                for hook in hooks[projectID] ?? [] where hook.wants(action) {
                    let request = try JobRequest(
                        kind: WebhookDelivery.kind, encoding: WebhookDelivery(webhookID: hook.id, eventID: eventID),
                        queue: queue,
                        maxAttempts: maxAttempts, idempotencyKey: "webhook:\(hook.id):\(eventID)", projectID: projectID)
                    if try await SQLJobRepository.insert(request, db, dialect: dialect).created { enqueued += 1 }
                }
            }
            try await db.raw("UPDATE cursors SET position = \(bind: last) WHERE name = \(bind: Self.cursor)").run()
            return enqueued
        }
    }

    /// The dispatcher's position, locked for this transaction; created at the newest event.
    @discardableResult
    static func cursorPosition(_ db: any SQLDatabase, dialect: SQLDialectKind) async throws -> Int64 {
        try await db.raw(
            """
            INSERT INTO cursors (name, position) SELECT \(bind: cursor), COALESCE(MAX(id), 0) FROM events WHERE true
            ON CONFLICT (name) DO NOTHING
            """
        ).run()
        let lock: SQLQueryString = dialect == .postgres ? " FOR UPDATE" : ""
        guard let row = try await db.raw("SELECT position FROM cursors WHERE name = \(bind: cursor)\(lock)").first()
        else {
            throw StoreError.inconsistent("the webhook cursor vanished")
        }
        return try row.decode(column: "position", as: Int64.self)
    }

    static func webhook(_ row: any SQLRow) throws -> Webhook {
        Webhook(
            id: try row.decode(column: "id", as: Int64.self),
            projectID: try row.decode(column: "project_id", as: Int64.self),
            url: try row.decode(column: "url", as: String.self),
            secret: try row.decode(column: "secret", as: String.self),
            eventTypes: try row.decode(column: "event_types", as: String.self).split(separator: ",").map(String.init),
            active: try row.decode(column: "active", as: Int64.self) != 0,
            createdBy: try row.decode(column: "created_by", as: Int64?.self),
            createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }
}
