extension Migration {
    /// Every migration, oldest first. Append only: never edit one that has shipped.
    public static let all: [Migration] = [
        foundation, accounts, uploadLinks, jobs, analyses, learning, remoteModels, hardening, learnerNoise,
        learnerModel, repairs, repairDefaults, searchChanges, perceptualHashes, analysisText, tokenParents,
        labelEdits, review, reports, labelChunks,
    ]

    /// Projects, images (one row per distinct content), project membership and labels.
    /// Times are Unix epoch milliseconds in BIGINT columns: identical in both databases,
    /// sortable, and free of driver-specific date decoding.
    static let foundation = Migration(
        id: "2026-11-23-foundation",
        portable: [
            """
            CREATE TABLE projects (
                id {IDENTITY},
                name TEXT NOT NULL UNIQUE,
                description TEXT NOT NULL DEFAULT '',
                label_set TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL)
            """,
            """
            CREATE TABLE images (
                sha256 TEXT PRIMARY KEY,
                format TEXT NOT NULL,
                width BIGINT NOT NULL,
                height BIGINT NOT NULL,
                bytes BIGINT NOT NULL,
                captured_at BIGINT,
                created_at BIGINT NOT NULL)
            """,
            """
            CREATE TABLE project_images (
                id {IDENTITY},
                project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                sha256 TEXT NOT NULL REFERENCES images(sha256),
                original_name TEXT,
                added_at BIGINT NOT NULL,
                UNIQUE (project_id, sha256))
            """,
            "CREATE INDEX project_images_by_sha256 ON project_images(sha256)",
            """
            CREATE TABLE labels (
                project_id BIGINT NOT NULL,
                sha256 TEXT NOT NULL,
                name TEXT NOT NULL,
                source TEXT NOT NULL,
                confidence DOUBLE PRECISION,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (project_id, sha256, name, source),
                FOREIGN KEY (project_id, sha256) REFERENCES project_images(project_id, sha256) ON DELETE CASCADE)
            """,
            "CREATE INDEX labels_by_name ON labels(project_id, name)",
        ]
    )
}
