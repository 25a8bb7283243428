extension Migration {
    /// Label corrections: a version per project membership (bumped by every change to its
    /// human labels, the `If-Match` of a label edit), and every change kept as an operation
    /// (who, when, what it undoes) with the images it changed and the labels it added and
    /// removed on each, so an operation can be undone and an image's labels have a history.
    static let labelEdits = Migration(
        id: "2026-12-06-label-edits",
        portable: [
            "ALTER TABLE project_images ADD COLUMN label_version BIGINT NOT NULL DEFAULT 1",
            """
            CREATE TABLE label_operations (
                id {IDENTITY},
                project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                actor_kind TEXT NOT NULL,
                actor_id BIGINT,
                actor_name TEXT NOT NULL,
                undoes BIGINT,
                undone_by BIGINT,
                created_at BIGINT NOT NULL)
            """,
            "CREATE INDEX label_operations_by_project ON label_operations(project_id, id)",
            """
            CREATE TABLE label_changes (
                operation_id BIGINT NOT NULL REFERENCES label_operations(id) ON DELETE CASCADE,
                project_id BIGINT NOT NULL,
                sha256 TEXT NOT NULL,
                version BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (operation_id, sha256))
            """,
            "CREATE INDEX label_changes_by_image ON label_changes(project_id, sha256)",
            """
            CREATE TABLE label_deltas (
                operation_id BIGINT NOT NULL REFERENCES label_operations(id) ON DELETE CASCADE,
                sha256 TEXT NOT NULL,
                name TEXT NOT NULL,
                added BIGINT NOT NULL,
                PRIMARY KEY (operation_id, sha256, name))
            """,
        ]
    )
}

extension Migration {
    /// A bulk label change applied in chunks (SQLite) is incomplete until its last chunk:
    /// `pending_until` is its lease, renewed by every chunk, and NULL once it is done. An
    /// operation whose lease lapsed was left half-way by a process that died, and is reversed
    /// (`LabelRepository.recover`).
    static let labelChunks = Migration(
        id: "2026-12-07-label-chunks",
        portable: ["ALTER TABLE label_operations ADD COLUMN pending_until BIGINT"]
    )
}
