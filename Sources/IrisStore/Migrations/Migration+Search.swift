extension Migration {
    /// What search indexes follow: every change to an image's project memberships or
    /// embeddings appends the image's hash here, by trigger, so no write path (an upload, a
    /// removal, a project's deletion, a cascade, another process) can forget to. A process's
    /// in-memory index reads the rows after the last it applied (`SearchRepository.changes`).
    static let searchChanges = Migration(
        id: "2026-12-04-search-changes",
        portable: [
            """
            CREATE TABLE search_changes (
                id {IDENTITY},
                sha256 TEXT NOT NULL,
                created_at BIGINT NOT NULL)
            """,
            "CREATE INDEX search_changes_by_time ON search_changes(created_at)",
        ],
        sqlite: ["project_images", "embeddings"].flatMap { table in
            [("added", "INSERT", "NEW"), ("removed", "DELETE", "OLD")].map { name, event, row in
                """
                CREATE TRIGGER search_\(table)_\(name) AFTER \(event) ON \(table) BEGIN
                    INSERT INTO search_changes (sha256, created_at)
                    VALUES (\(row).sha256, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
                END
                """
            }
        },
        postgres: [
            """
            CREATE FUNCTION iris_search_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO search_changes (sha256, created_at)
                VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.sha256 ELSE NEW.sha256 END,
                        (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
                RETURN NULL;
            END $$
            """,
            """
            CREATE TRIGGER search_project_images_changed AFTER INSERT OR DELETE ON project_images
                FOR EACH ROW EXECUTE FUNCTION iris_search_change()
            """,
            """
            CREATE TRIGGER search_embeddings_changed AFTER INSERT OR DELETE ON embeddings
                FOR EACH ROW EXECUTE FUNCTION iris_search_change()
            """,
        ]
    )

    /// Each image's difference hash (`PerceptualHash`), made from its 256 px thumbnail the
    /// first time a project's duplicates are looked for, and kept: the bytes never change.
    static let perceptualHashes = Migration(
        id: "2026-12-05-perceptual-hashes",
        portable: [
            """
            CREATE TABLE perceptual_hashes (
                sha256 TEXT PRIMARY KEY REFERENCES images(sha256) ON DELETE CASCADE,
                dhash BIGINT NOT NULL,
                created_at BIGINT NOT NULL)
            """
        ]
    )
}
