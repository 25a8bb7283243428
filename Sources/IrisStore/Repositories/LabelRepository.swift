public import Foundation
public import IrisCore
import SQLKit

/// Who changed labels, as the event log names them.
public struct LabelActor: Sendable, Equatable {
    public var kind: String
    public var id: Int64?
    public var name: String

    public init(kind: String, id: Int64?, name: String) { (self.kind, self.id, self.name) = (kind, id, name) }
}

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
/// transaction that writes the labels, the operation and its `label.changed` events together.
public protocol LabelRepository: Sendable {
    /// How many of the project's photos carry each human label.
    func counts(projectID: Int64) async throws -> [String: Int]
    /// The photo's human labels and version.
    func labels(of sha256: String, in projectID: Int64) async throws -> LabelledMember
    /// Replaces the photo's human labels with `names`; with `ifVersion`, only if the photo is
    /// still at that version (else `StoreError.stale`).
    func set(_ names: [String], on sha256: String, in projectID: Int64, ifVersion: Int64?, by actor: LabelActor)
        async throws -> (member: LabelledMember, outcome: LabelOutcome)
    /// Adds and removes human labels on every selected photo.
    func change(
        _ selection: LabelSelection, in projectID: Int64, add: [String], remove: [String], by actor: LabelActor
    ) async throws -> LabelOutcome
    /// Reverses an operation, if no photo it changed has changed since (else
    /// `StoreError.conflict` naming them).
    func undo(_ operation: Int64, in projectID: Int64, by actor: LabelActor) async throws -> LabelOutcome
    /// Every change to the photo's labels in the project, oldest first.
    func history(of sha256: String, in projectID: Int64) async throws -> [LabelHistoryEntry]
    /// The project's newest label change (nil: none yet): what an evaluation records as the
    /// labels it used, so two runs at the same operation used the same labels.
    func latestOperation(in projectID: Int64) async throws -> Int64?
    /// How many photos' human labels or review state changed after `date` (what a head trained
    /// then has not seen).
    func changedSince(_ date: Date, in projectID: Int64) async throws -> Int
}

/// `LabelRepository` in SQL, for SQLite and PostgreSQL alike. A change is a few set-based
/// statements whatever the number of photos (the selection is staged in `label_changes`, the
/// differences in `label_deltas`, then applied), so a bulk change of ten thousand photos
/// holds the write lock for a moment, not for ten thousand round trips.
public struct SQLLabelRepository: LabelRepository {
    let database: IrisDatabase

    public init(database: IrisDatabase) { self.database = database }

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

    public func set(_ names: [String], on sha256: String, in projectID: Int64, ifVersion: Int64?, by actor: LabelActor)
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
            let operation = try await Self.begin(projectID, actor: actor, undoes: nil, on: db)
            try await Self.stage(operation, sha256, from: before, to: names, in: projectID, on: db)
            let changed = try await Self.apply(operation, in: projectID, actor: actor, bumped: true, on: db)
            return (
                try await Self.member(sha256, in: projectID, on: db),
                LabelOutcome(operation: operation, changed: changed.count, sha256s: changed)
            )
        }
    }

    public func change(
        _ selection: LabelSelection, in projectID: Int64, add: [String], remove: [String], by actor: LabelActor
    ) async throws -> LabelOutcome {
        let dialect = database.dialect
        return try await database.transaction { db in
            let operation = try await Self.begin(projectID, actor: actor, undoes: nil, on: db)
            // The selection, staged as this operation's photos.
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
            // PostgreSQL: the selected photos are locked, so a single edit of one of them waits
            // for this change instead of interleaving with it.
            if dialect == .postgres {
                try await db.raw(
                    """
                    SELECT p.sha256 FROM project_images p JOIN label_changes c
                    ON c.project_id = p.project_id AND c.sha256 = p.sha256 WHERE c.operation_id = \(bind: operation)
                    FOR UPDATE OF p
                    """
                ).run()
            }
            // What the change does to each photo: the labels it removes that the photo has, the
            // labels it adds that the photo lacks.
            if !remove.isEmpty {
                try await db.raw(
                    """
                    INSERT INTO label_deltas (operation_id, sha256, name, added)
                    SELECT \(bind: operation), l.sha256, l.name, 0 FROM labels l JOIN label_changes c
                    ON c.project_id = l.project_id AND c.sha256 = l.sha256
                    WHERE c.operation_id = \(bind: operation) AND l.source = 'human' AND l.name IN (\(binds: remove))
                    """
                ).run()
            }
            for name in add {
                try await db.raw(
                    """
                    INSERT INTO label_deltas (operation_id, sha256, name, added)
                    SELECT \(bind: operation), c.sha256, \(bind: name), 1 FROM label_changes c
                    WHERE c.operation_id = \(bind: operation) AND NOT EXISTS (SELECT 1 FROM labels l
                    WHERE l.project_id = c.project_id AND l.sha256 = c.sha256 AND l.name = \(bind: name) AND l.source = 'human')
                    """
                ).run()
            }
            // Photos the change leaves as they were are not part of it.
            try await db.raw(
                """
                DELETE FROM label_changes WHERE operation_id = \(bind: operation) AND NOT EXISTS
                (SELECT 1 FROM label_deltas d WHERE d.operation_id = label_changes.operation_id AND d.sha256 = label_changes.sha256)
                """
            ).run()
            let changed = try await Self.apply(operation, in: projectID, actor: actor, bumped: false, on: db)
            guard !changed.isEmpty else {
                try await db.raw("DELETE FROM label_operations WHERE id = \(bind: operation)").run()
                return LabelOutcome(operation: nil, changed: 0)
            }
            return LabelOutcome(operation: operation, changed: changed.count, sha256s: changed)
        }
    }

    public func undo(_ operation: Int64, in projectID: Int64, by actor: LabelActor) async throws -> LabelOutcome {
        let dialect = database.dialect
        return try await database.transaction { db in
            guard
                let row = try await db.raw(
                    """
                    SELECT undone_by FROM label_operations WHERE id = \(bind: operation) AND project_id = \(bind: projectID)
                    """
                ).first()
            else { throw StoreError.notFound("project \(projectID) has no label change \(operation)") }
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
            let undo = try await Self.begin(projectID, actor: actor, undoes: operation, on: db)
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
            let changed = try await Self.apply(undo, in: projectID, actor: actor, bumped: false, on: db)
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

    static func begin(_ projectID: Int64, actor: LabelActor, undoes: Int64?, on db: any SQLDatabase) async throws
        -> Int64
    {
        guard try await db.raw("SELECT id FROM projects WHERE id = \(bind: projectID)").first() != nil else {
            throw StoreError.notFound("no project has id \(projectID)")
        }
        guard
            let row = try await db.raw(
                """
                INSERT INTO label_operations (project_id, actor_kind, actor_id, actor_name, undoes, created_at)
                VALUES (\(bind: projectID), \(bind: actor.kind), \(bind: actor.id), \(bind: actor.name), \(bind: undoes),
                \(bind: Clock.nowMilliseconds())) RETURNING id
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
    /// `label.changed` event per photo. Answers the photos that changed.
    static func apply(_ operation: Int64, in projectID: Int64, actor: LabelActor, bumped: Bool, on db: any SQLDatabase)
        async throws -> [String]
    {
        try await db.raw(
            """
            DELETE FROM labels WHERE project_id = \(bind: projectID) AND source = 'human' AND EXISTS
            (SELECT 1 FROM label_deltas d WHERE d.operation_id = \(bind: operation) AND d.added = 0
            AND d.sha256 = labels.sha256 AND d.name = labels.name)
            """
        ).run()
        try await db.raw(
            """
            INSERT INTO labels (project_id, sha256, name, source, confidence, created_at)
            SELECT \(bind: projectID), d.sha256, d.name, 'human', NULL, \(bind: Clock.nowMilliseconds())
            FROM label_deltas d WHERE d.operation_id = \(bind: operation) AND d.added = 1
            ON CONFLICT (project_id, sha256, name, source) DO NOTHING
            """
        ).run()
        if !bumped {
            try await db.raw(
                """
                UPDATE project_images SET label_version = label_version + 1 WHERE project_id = \(bind: projectID)
                AND sha256 IN (SELECT sha256 FROM label_changes WHERE operation_id = \(bind: operation))
                """
            ).run()
        }
        try await db.raw(
            """
            UPDATE label_changes SET version = (SELECT p.label_version FROM project_images p
            WHERE p.project_id = label_changes.project_id AND p.sha256 = label_changes.sha256)
            WHERE operation_id = \(bind: operation)
            """
        ).run()
        return try await events(operation, in: projectID, actor: actor, on: db)
    }

    /// A `label.changed` event per photo the operation changed, with its labels before and
    /// after (JSON arrays of names, sorted), written by one `INSERT … SELECT` in the change's
    /// transaction: the work is the database's, whatever the number of photos, so a bulk change
    /// holds the write lock no longer for its events than for its labels. Answers the photos.
    static func events(_ operation: Int64, in projectID: Int64, actor: LabelActor, on db: any SQLDatabase)
        async throws -> [String]
    {
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
        try await db.raw(
            """
            INSERT INTO events (actor_kind, actor_id, actor_name, action, project_id, subject, detail, created_at)
            SELECT \(bind: actor.kind), \(bind: actor.id), \(bind: actor.name), \(bind: EventAction.labelChanged.rawValue),
            c.project_id, c.sha256, \(unsafeRaw: object), \(bind: Clock.nowMilliseconds())
            FROM label_changes c WHERE c.operation_id = \(bind: operation) ORDER BY c.sha256
            """
        ).run()
        return try await db.raw(
            "SELECT sha256 FROM label_changes WHERE operation_id = \(bind: operation) ORDER BY sha256"
        ).all().map { try $0.decode(column: "sha256", as: String.self) }
    }

    /// "119efa3c0d12…, 5b1c… and 3 more" (the first few, by the first 12 digits of their
    /// hash: enough to tell them apart, short enough to read).
    static func listed(_ sha256s: [String], total: Int) -> String {
        let shown = sha256s.prefix(namedInConflict).map { $0.prefix(12) + "…" }.joined(separator: ", ")
        return total > namedInConflict ? "\(shown) and \(total - namedInConflict) more" : shown
    }
}
