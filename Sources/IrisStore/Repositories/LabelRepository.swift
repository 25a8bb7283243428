public import Foundation
public import IrisCore
import SQLKit

/// Which of a project's photos a bulk label change applies to.
public enum LabelSelection: Sendable, Equatable {
    /// These photos; every one must be in the project.
    case images([String])
    /// Every photo of the project that matches.
    case filter(LabelFilter)
}

/// A bulk change's filter: the gallery's (human label, model label) and where and when a photo
/// came in (its contributor link, the time it was added).
public struct LabelFilter: Sendable, Equatable {
    public var label: String?
    public var modelLabel: String?
    public var linkID: Int64?
    public var from: Date?
    public var to: Date?

    public init(
        label: String? = nil, modelLabel: String? = nil, linkID: Int64? = nil, from: Date? = nil, to: Date? = nil
    ) {
        (self.label, self.modelLabel, self.linkID, self.from, self.to) = (label, modelLabel, linkID, from, to)
    }
}

/// What a label change did: the operation that recorded it (nil when nothing changed) and the
/// photos whose labels it changed.
public struct LabelOutcome: Sendable, Equatable {
    public var operation: Int64?
    public var changed: Int
    /// The photos whose labels changed.
    public var sha256s: [String] = []

    public init(operation: Int64?, changed: Int, sha256s: [String] = []) {
        (self.operation, self.changed, self.sha256s) = (operation, changed, sha256s)
    }
}

/// One photo's human labels in a project, and the version a later edit names in `If-Match`.
public struct LabelledMember: Sendable, Equatable {
    public var sha256: String
    public var labels: [Label]
    public var version: Int64
}

/// One step of a photo's label history in a project.
public struct LabelHistoryEntry: Sendable, Equatable {
    public var operation: Int64
    public var actorKind: String
    public var actorName: String
    public var at: Date
    public var added: [String]
    public var removed: [String]
    /// The operation this one undid, if it was an undo.
    public var undoes: Int64?
}

/// Human labels as people correct them: one photo at a time (with its version, so two
/// reviewers never overwrite each other), many at once, and undone. Every change is one
/// transaction (on SQLite a bulk change is one a chunk) that writes the labels, the operation
/// and its `label.changed` events together. `event` is the log's template for those events
/// (`AuditLog.template`: who and which action); the store fills in each photo's project,
/// subject and detail, and records the operation under the same actor.
public protocol LabelRepository: Sendable {
    /// How many of the project's photos carry each human label.
    func counts(projectID: Int64) async throws -> [String: Int]
    /// The photo's human labels and version.
    func labels(of sha256: String, in projectID: Int64) async throws -> LabelledMember
    /// Replaces the photo's human labels with `names`; with `ifVersion`, only if the photo is
    /// still at that version (else `StoreError.stale`).
    func set(_ names: [String], on sha256: String, in projectID: Int64, ifVersion: Int64?, recording event: Event)
        async throws -> (member: LabelledMember, outcome: LabelOutcome)
    /// Adds and removes human labels on every selected photo.
    func change(
        _ selection: LabelSelection, in projectID: Int64, add: [String], remove: [String], recording event: Event
    ) async throws -> LabelOutcome
    /// Reverses an operation, if no photo it changed has changed since (else
    /// `StoreError.conflict` naming them).
    func undo(_ operation: Int64, in projectID: Int64, recording event: Event) async throws -> LabelOutcome
    /// Every change to the photo's labels in the project, oldest first.
    func history(of sha256: String, in projectID: Int64) async throws -> [LabelHistoryEntry]
    /// The project's newest label change (nil: none yet): what an evaluation records as the
    /// labels it used, so two runs at the same operation used the same labels.
    func latestOperation(in projectID: Int64) async throws -> Int64?
    /// How many photos' human labels or review state changed after `date` (what a head trained
    /// then has not seen).
    func changedSince(_ date: Date, in projectID: Int64) async throws -> Int
    /// Reverses every bulk change left incomplete whose lease lapsed before `now` (its process
    /// died between chunks), as `event`'s actor. Answers the operations reversed.
    @discardableResult
    func recover(now: Date, recording event: Event) async throws -> [Int64]
}

/// `LabelRepository` in SQL, for SQLite and PostgreSQL alike. A change is a few set-based
/// statements whatever the number of photos (the selection is staged in `label_changes`, the
/// differences in `label_deltas`, then applied), so a bulk change of ten thousand photos
/// holds the write lock for a moment, not for ten thousand round trips. On SQLite (one
/// writer for the whole database) a bulk change is applied `chunkSize` photos a write
/// transaction, so another writer waits for one chunk, not for the whole change.
public struct SQLLabelRepository: LabelRepository {
    let database: IrisDatabase
    /// Photos per write transaction of a bulk change; nil applies it in one transaction.
    let chunkSize: Int?
    /// Test hook: fail the change after this many chunks, reversing what was applied
    /// (`reverse`) or leaving it incomplete as a process that died would.
    var interruption: (afterChunks: Int, reverse: Bool)?

    /// `chunkSize` nil picks by dialect: 500 on SQLite; one transaction on PostgreSQL, whose
    /// row locks hold only the photos changed, so other writers do not wait for it.
    public init(database: IrisDatabase, chunkSize: Int? = nil) {
        self.database = database
        self.chunkSize = chunkSize ?? (database.dialect == .sqlite ? Self.sqliteChunk : nil)
    }

    /// Photos a write transaction of a bulk change on SQLite: about 20 ms of work (10,000 photos
    /// took 0.32–0.35 s in one, release build).
    public static let sqliteChunk = 500
    /// How long an incomplete change may go without finishing a chunk before it counts as
    /// abandoned (its process died) and `recover` reverses it. A chunk takes milliseconds.
    static let lease: Int64 = 60_000

    public func counts(projectID: Int64) async throws -> [String: Int] {
        try await database.withConnection { db in
            var counts: [String: Int] = [:]
            for row in try await db.raw(
                """
                SELECT name, COUNT(*) AS n FROM labels
                WHERE project_id = \(bind: projectID) AND source = \(bind: Label.humanSource) GROUP BY name
                """
            ).all() {
                counts[try row.decode(column: "name", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            return counts
        }
    }

    /// The most photos a list selection may name.
    public static let maxImages = 10_000
    /// The most photos one change may touch (a filter's matches included).
    public static let maxChanged = 100_000
    /// How many photos a conflict names before "and N more".
    static let namedInConflict = 10

    public func labels(of sha256: String, in projectID: Int64) async throws -> LabelledMember {
        try await database.withConnection { db in try await Self.member(sha256, in: projectID, on: db) }
    }

    static func member(_ sha256: String, in projectID: Int64, on db: any SQLDatabase) async throws -> LabelledMember {
        guard
            let row = try await db.raw(
                """
                SELECT label_version FROM project_images WHERE project_id = \(bind: projectID) AND sha256 = \(bind: sha256)
                """
            ).first()
        else { throw StoreError.notFound("project \(projectID) holds no image \(sha256)") }
        let labels = try await db.raw(
            """
            SELECT name FROM labels WHERE project_id = \(bind: projectID) AND sha256 = \(bind: sha256)
            AND source = 'human' ORDER BY created_at, name
            """
        ).all().map { Label(name: try $0.decode(column: "name", as: String.self)) }
        return LabelledMember(
            sha256: sha256, labels: labels, version: try row.decode(column: "label_version", as: Int64.self))
    }

    public func set(
        _ names: [String], on sha256: String, in projectID: Int64, ifVersion: Int64?, recording event: Event
    )
        async throws -> (member: LabelledMember, outcome: LabelOutcome)
    {
        try await database.transaction { db in
            let current = try await Self.member(sha256, in: projectID, on: db)
            if let ifVersion, ifVersion != current.version {
                throw StoreError.stale(
                    "the labels of \(sha256.prefix(12)) changed since version \(ifVersion) (now \(current.version)); reload them and try again"
                )
            }
            let before = Set(current.labels.map(\.name))
            guard before != Set(names) else { return (current, LabelOutcome(operation: nil, changed: 0)) }
            // The version moves first and only from the version read: a second writer of the
            // same photo waits here (PostgreSQL's row lock; SQLite has one writer) and then
            // finds no row at that version.
            let bumped = try await db.raw(
                """
                UPDATE project_images SET label_version = label_version + 1
                WHERE project_id = \(bind: projectID) AND sha256 = \(bind: sha256) AND label_version = \(bind: current.version)
                RETURNING label_version
                """
            ).first()
            guard bumped != nil else {
                throw StoreError.stale(
                    "the labels of \(sha256.prefix(12)) changed meanwhile; reload them and try again")
            }
            let operation = try await Self.begin(projectID, event: event, undoes: nil, on: db)
            try await Self.stage(operation, sha256, from: before, to: names, in: projectID, on: db)
            let changed = try await Self.apply(operation, nil, in: projectID, event: event, bumped: true, on: db)
            return (
                try await Self.member(sha256, in: projectID, on: db),
                LabelOutcome(operation: operation, changed: changed.count, sha256s: changed)
            )
        }
    }

    public func change(
        _ selection: LabelSelection, in projectID: Int64, add: [String], remove: [String], recording event: Event
    ) async throws -> LabelOutcome {
        guard let chunkSize, chunkSize > 0 else {
            let dialect = database.dialect
            return try await database.transaction { db in
                let operation = try await Self.begin(projectID, event: event, undoes: nil, on: db)
                try await Self.stage(selection, operation: operation, in: projectID, on: db)
                // PostgreSQL: the selected photos are locked, so a single edit of one of them waits
                // for this change instead of interleaving with it.
                if dialect == .postgres {
                    try await db.raw(
                        """
                        SELECT p.sha256 FROM project_images p JOIN label_changes c
                        ON c.project_id = p.project_id AND c.sha256 = p.sha256 WHERE c.operation_id = \(bind: operation)
                        ORDER BY p.sha256 FOR UPDATE OF p
                        """
                    ).run()
                }
                let changed = try await Self.chunk(
                    operation, nil, in: projectID, add: add, remove: remove, event: event, on: db)
                guard !changed.isEmpty else {
                    try await db.raw("DELETE FROM label_operations WHERE id = \(bind: operation)").run()
                    return LabelOutcome(operation: nil, changed: 0)
                }
                return LabelOutcome(operation: operation, changed: changed.count, sha256s: changed)
            }
        }
        // Another change a dead process left half-way is reversed first, as the system's act
        // (not this caller's); failing to do so is not this change's failure.
        var system = event
        (system.actorKind, system.actorID, system.actorName) = ("system", nil, "iris")
        _ = try? await recover(now: Date(), recording: system)
        // The operation and its photos first, marked incomplete (with a lease): a refused
        // selection records nothing.
        let operation = try await database.transaction { db in
            let operation = try await Self.begin(
                projectID, event: event, undoes: nil, pendingUntil: Clock.nowMilliseconds() + Self.lease, on: db)
            try await Self.stage(selection, operation: operation, in: projectID, on: db)
            return operation
        }
        var changed: [String] = []
        do {
            var last = ""
            var chunks = 0
            while true {
                if let interruption, chunks == interruption.afterChunks {
                    throw StoreError.inconsistent("the label change was interrupted after \(chunks) chunks (test)")
                }
                // One write transaction a chunk: its photos' labels are read again here, so a
                // single edit made since staging is what the change starts from.
                let after = last
                let done: (through: String, changed: [String])? = try await database.transaction { db in
                    // A change stalled past its lease may have been reversed by recovery: then
                    // it must fail, not go on or answer success.
                    guard
                        try await db.raw(
                            """
                            SELECT id FROM label_operations
                            WHERE id = \(bind: operation) AND pending_until IS NOT NULL AND undone_by IS NULL
                            """
                        ).first() != nil
                    else {
                        throw StoreError.conflict(
                            "the label change stalled and was reversed; nothing of it is kept, try again")
                    }
                    let next = try await db.raw(
                        """
                        SELECT sha256 FROM label_changes WHERE operation_id = \(bind: operation) AND sha256 > \(bind: after)
                        ORDER BY sha256 LIMIT \(bind: chunkSize)
                        """
                    ).all().map { try $0.decode(column: "sha256", as: String.self) }
                    guard let through = next.last else { return nil }
                    let span = Span(after: after, through: through)
                    let applied = try await Self.chunk(
                        operation, span, in: projectID, add: add, remove: remove, event: event, on: db)
                    try await db.raw(
                        """
                        UPDATE label_operations SET pending_until = \(bind: Clock.nowMilliseconds() + Self.lease)
                        WHERE id = \(bind: operation)
                        """
                    ).run()
                    return (through, applied)
                }
                guard let done else { break }
                last = done.through
                changed += done.changed
                chunks += 1
            }
            let nothing = changed.isEmpty
            try await database.transaction { db in
                if nothing {
                    try await db.raw("DELETE FROM label_operations WHERE id = \(bind: operation)").run()
                } else {
                    try await db.raw(
                        "UPDATE label_operations SET pending_until = NULL WHERE id = \(bind: operation)"
                    ).run()
                }
            }
        } catch {
            // All or nothing: the chunks applied are reversed before the error is answered. If
            // even that fails, the lease lapses and `recover` does it.
            if interruption?.reverse ?? true {
                _ = try? await reverse(operation, in: projectID, recording: event)
            }
            throw error
        }
        return changed.isEmpty
            ? LabelOutcome(operation: nil, changed: 0)
            : LabelOutcome(operation: operation, changed: changed.count, sha256s: changed)
    }

    /// A run of an operation's photos, by hash: those after `after`, up to and including `through`.
    struct Span {
        var after: String
        var through: String
    }

    /// `AND column > after AND column <= through`, or nothing for the whole operation.
    static func within(_ span: Span?, _ column: String) -> SQLQueryString {
        guard let span else { return "" }
        return " AND \(unsafeRaw: column) > \(bind: span.after) AND \(unsafeRaw: column) <= \(bind: span.through)"
    }

    /// Stages the selection as the operation's photos (`label_changes`, version 0: not applied).
    static func stage(_ selection: LabelSelection, operation: Int64, in projectID: Int64, on db: any SQLDatabase)
        async throws
    {
        switch selection {
        case .images(let sha256s):
            let wanted = Array(Set(sha256s))
            for chunk in wanted.chunked(500) {
                try await db.raw(
                    """
                    INSERT INTO label_changes (operation_id, project_id, sha256, version)
                    SELECT \(bind: operation), project_id, sha256, 0 FROM project_images
                    WHERE project_id = \(bind: projectID) AND sha256 IN (\(binds: chunk))
                    """
                ).run()
            }
            let staged = try await Self.count(operation, on: db)
            if staged < wanted.count {
                let found = Set(
                    try await db.raw("SELECT sha256 FROM label_changes WHERE operation_id = \(bind: operation)")
                        .all().map { try $0.decode(column: "sha256", as: String.self) })
                let missing = wanted.filter { !found.contains($0) }.sorted()
                throw StoreError.notFound(
                    "the project holds no image "
                        + Self.listed(missing, total: missing.count))
            }
        case .filter(let filter):
            var query: SQLQueryString = """
                INSERT INTO label_changes (operation_id, project_id, sha256, version)
                SELECT \(bind: operation), p.project_id, p.sha256, 0 FROM project_images p
                WHERE p.project_id = \(bind: projectID)
                """
            query += SQLImageRepository.matching(ImageFilter(label: filter.label, modelLabel: filter.modelLabel))
            if let link = filter.linkID { query += " AND p.link_id = \(bind: link)" }
            if let from = filter.from { query += " AND p.added_at >= \(bind: Clock.milliseconds(from))" }
            if let to = filter.to { query += " AND p.added_at < \(bind: Clock.milliseconds(to))" }
            try await db.raw(query).run()
            let staged = try await Self.count(operation, on: db)
            guard staged <= Self.maxChanged else {
                throw StoreError.conflict(
                    "the filter matches \(staged) photos; one change may touch at most \(Self.maxChanged): narrow it",
                    field: "filter")
            }
        }
    }

    /// Applies a bulk change to the staged photos in `span` (all of them when nil), from the
    /// labels they have now: the deltas, the photos it leaves as they were (or that left the
    /// project since staging) dropped, then `apply`. Answers the photos changed.
    static func chunk(
        _ operation: Int64, _ span: Span?, in projectID: Int64, add: [String], remove: [String], event: Event,
        on db: any SQLDatabase
    ) async throws -> [String] {
        // What the change does to each photo: the labels it removes that the photo has, the
        // labels it adds that the photo lacks.
        if !remove.isEmpty {
            try await db.raw(
                """
                INSERT INTO label_deltas (operation_id, sha256, name, added)
                SELECT \(bind: operation), l.sha256, l.name, 0 FROM labels l JOIN label_changes c
                ON c.project_id = l.project_id AND c.sha256 = l.sha256
                WHERE c.operation_id = \(bind: operation) AND l.source = 'human' AND l.name IN (\(binds: remove))\(within(span, "c.sha256"))
                """
            ).run()
        }
        for name in add {
            try await db.raw(
                """
                INSERT INTO label_deltas (operation_id, sha256, name, added)
                SELECT \(bind: operation), c.sha256, \(bind: name), 1 FROM label_changes c
                WHERE c.operation_id = \(bind: operation)\(within(span, "c.sha256")) AND NOT EXISTS (SELECT 1 FROM labels l
                WHERE l.project_id = c.project_id AND l.sha256 = c.sha256 AND l.name = \(bind: name) AND l.source = 'human')
                AND EXISTS (SELECT 1 FROM project_images p WHERE p.project_id = c.project_id AND p.sha256 = c.sha256)
                """
            ).run()
        }
        // Photos the change leaves as they were are not part of it.
        try await db.raw(
            """
            DELETE FROM label_changes WHERE operation_id = \(bind: operation)\(within(span, "sha256")) AND NOT EXISTS
            (SELECT 1 FROM label_deltas d WHERE d.operation_id = label_changes.operation_id AND d.sha256 = label_changes.sha256)
            """
        ).run()
        return try await apply(operation, span, in: projectID, event: event, bumped: false, on: db)
    }

    /// Reverses what an incomplete operation applied, in one transaction: its applied photos
    /// still as it left them get their labels back (as an undo operation by `event`'s actor,
    /// with its events); a photo edited since keeps the later edit. Nothing applied: the
    /// operation is deleted. Answers whether the operation was incomplete.
    @discardableResult
    func reverse(_ operation: Int64, in projectID: Int64, recording event: Event, lapsedBy: Date? = nil)
        async throws -> Bool
    {
        try await database.transaction { db in
            // Recovery reverses only a change whose lease has lapsed, checked again here: one
            // that renewed it since is alive.
            let lapsed: SQLQueryString =
                lapsedBy.map { " AND pending_until < \(bind: Clock.milliseconds($0))" } ?? ""
            guard
                try await db.raw(
                    """
                    SELECT id FROM label_operations WHERE id = \(bind: operation) AND pending_until IS NOT NULL\(lapsed)
                    """
                ).first() != nil
            else { return false }
            // Staged photos no chunk reached are not part of it.
            try await db.raw("DELETE FROM label_changes WHERE operation_id = \(bind: operation) AND version = 0").run()
            let undo = try await Self.begin(projectID, event: event, undoes: operation, on: db)
            try await db.raw(
                """
                INSERT INTO label_changes (operation_id, project_id, sha256, version)
                SELECT \(bind: undo), c.project_id, c.sha256, 0 FROM label_changes c JOIN project_images p
                ON p.project_id = c.project_id AND p.sha256 = c.sha256
                WHERE c.operation_id = \(bind: operation) AND p.label_version = c.version
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO label_deltas (operation_id, sha256, name, added)
                SELECT \(bind: undo), d.sha256, d.name, 1 - d.added FROM label_deltas d
                WHERE d.operation_id = \(bind: operation) AND d.sha256 IN
                (SELECT sha256 FROM label_changes WHERE operation_id = \(bind: undo))
                """
            ).run()
            let reversed = try await Self.apply(
                undo, nil, in: projectID, event: event, bumped: false, on: db)
            if try await Self.count(operation, on: db) == 0 {
                try await db.raw("DELETE FROM label_operations WHERE id IN (\(bind: operation), \(bind: undo))").run()
            } else {
                if reversed.isEmpty {
                    try await db.raw("DELETE FROM label_operations WHERE id = \(bind: undo)").run()
                }
                try await db.raw(
                    """
                    UPDATE label_operations SET pending_until = NULL,
                    undone_by = \(unsafeRaw: reversed.isEmpty ? "NULL" : String(undo)) WHERE id = \(bind: operation)
                    """
                ).run()
            }
            return true
        }
    }

    @discardableResult
    public func recover(now: Date, recording event: Event) async throws -> [Int64] {
        let lapsed = try await database.withConnection { db in
            try await db.raw(
                """
                SELECT id, project_id FROM label_operations
                WHERE pending_until IS NOT NULL AND pending_until < \(bind: Clock.milliseconds(now)) ORDER BY id
                """
            ).all().map {
                (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "project_id", as: Int64.self))
            }
        }
        var reversed: [Int64] = []
        for (operation, projectID) in lapsed {
            if try await reverse(operation, in: projectID, recording: event, lapsedBy: now) {
                reversed.append(operation)
            }
        }
        return reversed
    }

    public func undo(_ operation: Int64, in projectID: Int64, recording event: Event) async throws -> LabelOutcome {
        let dialect = database.dialect
        return try await database.transaction { db in
            guard
                let row = try await db.raw(
                    """
                    SELECT undone_by, pending_until FROM label_operations
                    WHERE id = \(bind: operation) AND project_id = \(bind: projectID)
                    """
                ).first()
            else { throw StoreError.notFound("project \(projectID) has no label change \(operation)") }
            if try row.decode(column: "pending_until", as: Int64?.self) != nil {
                throw StoreError.conflict(
                    "label change \(operation) is still being applied; undo it once it is done", field: "operation")
            }
            if let by = try row.decode(column: "undone_by", as: Int64?.self) {
                throw StoreError.conflict(
                    "label change \(operation) was undone already (by change \(by))", field: "operation")
            }
            // Every photo it changed must still be as it left it: same version, still in the project.
            let lock = dialect == .postgres ? " FOR UPDATE OF c" : ""
            let rows = try await db.raw(
                """
                SELECT c.sha256, c.version, p.label_version FROM label_changes c LEFT JOIN project_images p
                ON p.project_id = c.project_id AND p.sha256 = c.sha256 WHERE c.operation_id = \(bind: operation)
                ORDER BY c.sha256\(unsafeRaw: lock)
                """
            ).all()
            var moved: [String] = []
            for row in rows {
                let now = try row.decode(column: "label_version", as: Int64?.self)
                if now != (try row.decode(column: "version", as: Int64.self)) {
                    moved.append(try row.decode(column: "sha256", as: String.self))
                }
            }
            guard moved.isEmpty else {
                throw StoreError.conflict(
                    "label change \(operation) cannot be undone: the labels of "
                        + Self.listed(moved, total: moved.count) + " changed since (or they left the project)",
                    field: "operation")
            }
            let undo = try await Self.begin(projectID, event: event, undoes: operation, on: db)
            try await db.raw(
                """
                INSERT INTO label_changes (operation_id, project_id, sha256, version)
                SELECT \(bind: undo), project_id, sha256, 0 FROM label_changes WHERE operation_id = \(bind: operation)
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO label_deltas (operation_id, sha256, name, added)
                SELECT \(bind: undo), sha256, name, 1 - added FROM label_deltas WHERE operation_id = \(bind: operation)
                """
            ).run()
            let changed = try await Self.apply(undo, nil, in: projectID, event: event, bumped: false, on: db)
            try await db.raw("UPDATE label_operations SET undone_by = \(bind: undo) WHERE id = \(bind: operation)")
                .run()
            return LabelOutcome(operation: undo, changed: changed.count, sha256s: changed)
        }
    }

    public func history(of sha256: String, in projectID: Int64) async throws -> [LabelHistoryEntry] {
        try await database.withConnection { db in
            let rows = try await db.raw(
                """
                SELECT o.id, o.actor_kind, o.actor_name, o.created_at, o.undoes, d.name, d.added
                FROM label_changes c JOIN label_operations o ON o.id = c.operation_id
                JOIN label_deltas d ON d.operation_id = c.operation_id AND d.sha256 = c.sha256
                WHERE c.project_id = \(bind: projectID) AND c.sha256 = \(bind: sha256)
                ORDER BY o.id, d.name
                """
            ).all()
            var entries: [LabelHistoryEntry] = []
            for row in rows {
                let id = try row.decode(column: "id", as: Int64.self)
                if entries.last?.operation != id {
                    entries.append(
                        LabelHistoryEntry(
                            operation: id, actorKind: try row.decode(column: "actor_kind", as: String.self),
                            actorName: try row.decode(column: "actor_name", as: String.self),
                            at: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)),
                            added: [], removed: [], undoes: try row.decode(column: "undoes", as: Int64?.self)))
                }
                let name = try row.decode(column: "name", as: String.self)
                if try row.decode(column: "added", as: Int64.self) == 1 {
                    entries[entries.count - 1].added.append(name)
                } else {
                    entries[entries.count - 1].removed.append(name)
                }
            }
            return entries
        }
    }

    public func latestOperation(in projectID: Int64) async throws -> Int64? {
        try await database.withConnection { db in
            try await db.raw("SELECT MAX(id) AS id FROM label_operations WHERE project_id = \(bind: projectID)")
                .first()?
                .decode(column: "id", as: Int64?.self)
        }
    }

    public func changedSince(_ date: Date, in projectID: Int64) async throws -> Int {
        try await database.withConnection { db in
            let since = Clock.milliseconds(date)
            return try await db.raw(
                """
                SELECT COUNT(*) AS n FROM (
                    SELECT c.sha256 FROM label_changes c JOIN label_operations o ON o.id = c.operation_id
                    WHERE c.project_id = \(bind: projectID) AND o.created_at > \(bind: since)
                    UNION
                    SELECT sha256 FROM project_images WHERE project_id = \(bind: projectID) AND decided_at > \(bind: since)
                ) changed
                """
            ).first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    // MARK: - The steps every change shares

    static func begin(
        _ projectID: Int64, event: Event, undoes: Int64?, pendingUntil: Int64? = nil, on db: any SQLDatabase
    ) async throws -> Int64 {
        guard try await db.raw("SELECT id FROM projects WHERE id = \(bind: projectID)").first() != nil else {
            throw StoreError.notFound("no project has id \(projectID)")
        }
        guard
            let row = try await db.raw(
                """
                INSERT INTO label_operations (project_id, actor_kind, actor_id, actor_name, undoes, created_at, pending_until)
                VALUES (\(bind: projectID), \(bind: event.actorKind), \(bind: event.actorID), \(bind: event.actorName), \(bind: undoes),
                \(bind: Clock.nowMilliseconds()), \(bind: pendingUntil)) RETURNING id
                """
            ).first()
        else { throw StoreError.inconsistent("the label change was not recorded") }
        return try row.decode(column: "id", as: Int64.self)
    }

    /// Stages one photo's change from the labels it has to the labels it should have: its row in
    /// `label_changes` and a delta per label removed or added. Nothing when the two are the same;
    /// answers whether anything was staged.
    @discardableResult
    static func stage(
        _ operation: Int64, _ sha256: String, from current: Set<String>, to wanted: [String], in projectID: Int64,
        on db: any SQLDatabase
    ) async throws -> Bool {
        let deltas =
            current.subtracting(wanted).sorted().map { ($0, 0) }
            + wanted.filter { !current.contains($0) }.map { ($0, 1) }
        guard !deltas.isEmpty else { return false }
        try await db.raw(
            """
            INSERT INTO label_changes (operation_id, project_id, sha256, version)
            VALUES (\(bind: operation), \(bind: projectID), \(bind: sha256), 0)
            """
        ).run()
        for (name, added) in deltas {
            try await db.raw(
                """
                INSERT INTO label_deltas (operation_id, sha256, name, added)
                VALUES (\(bind: operation), \(bind: sha256), \(bind: name), \(bind: added))
                """
            ).run()
        }
        return true
    }

    static func count(_ operation: Int64, on db: any SQLDatabase) async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM label_changes WHERE operation_id = \(bind: operation)").first()?
            .decode(column: "n", as: Int.self) ?? 0
    }

    /// Applies the staged deltas: labels removed and added, versions moved (unless the caller
    /// moved the one photo's already), each photo's new version kept for undo, and a
    /// `label.changed` event per photo. `span` limits it to a run of the operation's photos (a
    /// chunk). Answers the photos that changed.
    static func apply(
        _ operation: Int64, _ span: Span?, in projectID: Int64, event: Event, bumped: Bool,
        on db: any SQLDatabase
    ) async throws -> [String] {
        try await db.raw(
            """
            DELETE FROM labels WHERE project_id = \(bind: projectID) AND source = 'human' AND EXISTS
            (SELECT 1 FROM label_deltas d WHERE d.operation_id = \(bind: operation) AND d.added = 0
            AND d.sha256 = labels.sha256 AND d.name = labels.name)\(within(span, "sha256"))
            """
        ).run()
        try await db.raw(
            """
            INSERT INTO labels (project_id, sha256, name, source, confidence, created_at)
            SELECT \(bind: projectID), d.sha256, d.name, 'human', NULL, \(bind: Clock.nowMilliseconds())
            FROM label_deltas d WHERE d.operation_id = \(bind: operation) AND d.added = 1\(within(span, "d.sha256"))
            ON CONFLICT (project_id, sha256, name, source) DO NOTHING
            """
        ).run()
        if !bumped {
            try await db.raw(
                """
                UPDATE project_images SET label_version = label_version + 1 WHERE project_id = \(bind: projectID)
                AND sha256 IN (SELECT sha256 FROM label_changes WHERE operation_id = \(bind: operation)\(within(span, "sha256")))
                """
            ).run()
        }
        try await db.raw(
            """
            UPDATE label_changes SET version = (SELECT p.label_version FROM project_images p
            WHERE p.project_id = label_changes.project_id AND p.sha256 = label_changes.sha256)
            WHERE operation_id = \(bind: operation)\(within(span, "sha256"))
            """
        ).run()
        return try await events(operation, span, in: projectID, event: event, on: db)
    }

    /// A `label.changed` event per photo the operation changed, with its labels before and
    /// after (JSON arrays of names, sorted), written by one `INSERT … SELECT` in the change's
    /// transaction: the work is the database's, whatever the number of photos, so a bulk change
    /// holds the write lock no longer for its events than for its labels. Answers the photos.
    static func events(
        _ operation: Int64, _ span: Span?, in projectID: Int64, event: Event, on db: any SQLDatabase
    ) async throws -> [String] {
        let dialect = db.dialect.name == "postgresql" ? "postgres" : "sqlite"
        // The operation's id is an integer: written into the statement, in the correlated parts.
        let after =
            "SELECT l.name FROM labels l WHERE l.project_id = c.project_id AND l.sha256 = c.sha256 AND l.source = 'human'"
        let before = """
            SELECT l.name FROM labels l WHERE l.project_id = c.project_id AND l.sha256 = c.sha256 AND l.source = 'human'
            AND NOT EXISTS (SELECT 1 FROM label_deltas d WHERE d.operation_id = \(operation) AND d.sha256 = c.sha256
            AND d.name = l.name AND d.added = 1)
            UNION SELECT d.name FROM label_deltas d WHERE d.operation_id = \(operation) AND d.sha256 = c.sha256 AND d.added = 0
            """
        // A JSON array of the names, sorted, as text: the same bytes from both databases.
        func names(_ query: String) -> String {
            dialect == "postgres"
                ? "(SELECT COALESCE('[' || string_agg(to_json(s.name)::text, ',' ORDER BY s.name) || ']', '[]') FROM (\(query)) s)"
                : "(SELECT json_group_array(s.name) FROM (SELECT name FROM (\(query)) ORDER BY name) s)"
        }
        let object =
            dialect == "postgres"
            ? "json_build_object('after', \(names(after)), 'before', \(names(before)), 'operation', '\(operation)')::text"
            : "json_object('after', \(names(after)), 'before', \(names(before)), 'operation', '\(operation)')"
        try await SQLEventRepository.insert(
            event,
            forEach: """
                SELECT c.project_id AS project_id, c.sha256 AS subject, \(unsafeRaw: object) AS detail
                FROM label_changes c WHERE c.operation_id = \(bind: operation)\(within(span, "c.sha256"))
                """, at: Clock.nowMilliseconds(), on: db)
        return try await db.raw(
            """
            SELECT sha256 FROM label_changes WHERE operation_id = \(bind: operation)\(within(span, "sha256"))
            ORDER BY sha256
            """
        ).all().map { try $0.decode(column: "sha256", as: String.self) }
    }

    /// "119efa3c0d12…, 5b1c… and 3 more" (the first few, by the first 12 digits of their
    /// hash: enough to tell them apart, short enough to read).
    static func listed(_ sha256s: [String], total: Int) -> String {
        let shown = sha256s.prefix(namedInConflict).map { $0.prefix(12) + "…" }.joined(separator: ", ")
        return total > namedInConflict ? "\(shown) and \(total - namedInConflict) more" : shown
    }
}
