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

    /// The text that detect-text models read, indexed for whole-word search: SQLite's FTS5 and
    /// PostgreSQL's `tsvector` (GIN), each kept by triggers on `analyses`, so text search asks
    /// an index rather than scanning every result with `LIKE`. Existing results are indexed here.
    static let analysisText = Migration(
        id: "2026-12-06-analysis-text",
        sqlite: [
            // FTS5 rows are found by an INTEGER PRIMARY KEY of their own (stable, unlike the
            // implicit rowid of `analyses`).
            """
            CREATE TABLE analysis_text_rows (
                id INTEGER PRIMARY KEY,
                sha256 TEXT NOT NULL,
                model TEXT NOT NULL,
                UNIQUE (sha256, model))
            """,
            "CREATE VIRTUAL TABLE analysis_text USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')",
            """
            CREATE TRIGGER analysis_text_added AFTER INSERT ON analyses
            WHEN CASE WHEN json_valid(NEW.result) THEN json_type(NEW.result, '$.text') END = 'array' BEGIN
                INSERT OR IGNORE INTO analysis_text_rows (sha256, model) VALUES (NEW.sha256, NEW.model);
                INSERT INTO analysis_text (rowid, body)
                SELECT (SELECT id FROM analysis_text_rows WHERE sha256 = NEW.sha256 AND model = NEW.model),
                       COALESCE((SELECT group_concat(json_extract(value, '$.text'), char(10))
                                 FROM json_each(NEW.result, '$.text')), '');
            END
            """,
            """
            CREATE TRIGGER analysis_text_removed AFTER DELETE ON analyses BEGIN
                DELETE FROM analysis_text
                WHERE rowid = (SELECT id FROM analysis_text_rows WHERE sha256 = OLD.sha256 AND model = OLD.model);
                DELETE FROM analysis_text_rows WHERE sha256 = OLD.sha256 AND model = OLD.model;
            END
            """,
            """
            INSERT INTO analysis_text_rows (sha256, model)
            SELECT sha256, model FROM analyses
            WHERE CASE WHEN json_valid(result) THEN json_type(result, '$.text') END = 'array'
            """,
            """
            INSERT INTO analysis_text (rowid, body)
            SELECT r.id, COALESCE((SELECT group_concat(json_extract(value, '$.text'), char(10))
                                   FROM json_each(a.result, '$.text')), '')
            FROM analysis_text_rows r JOIN analyses a ON a.sha256 = r.sha256 AND a.model = r.model
            """,
        ],
        postgres: [
            """
            CREATE TABLE analysis_text (
                sha256 TEXT NOT NULL,
                model TEXT NOT NULL,
                body TEXT NOT NULL,
                words tsvector NOT NULL,
                PRIMARY KEY (sha256, model))
            """,
            "CREATE INDEX analysis_text_words ON analysis_text USING GIN (words)",
            // A result that is not JSON, or has no list of text, indexes nothing (and never
            // fails the analysis's own insert).
            """
            CREATE FUNCTION iris_analysis_text() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                lines TEXT;
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    DELETE FROM analysis_text WHERE sha256 = OLD.sha256 AND model = OLD.model;
                    RETURN NULL;
                END IF;
                BEGIN
                    SELECT string_agg(line ->> 'text', E'\\n') INTO lines
                    FROM jsonb_array_elements(NEW.result::jsonb -> 'text') AS line;
                EXCEPTION WHEN others THEN
                    RETURN NULL;
                END;
                IF lines IS NOT NULL THEN
                    INSERT INTO analysis_text (sha256, model, body, words)
                    VALUES (NEW.sha256, NEW.model, lines, to_tsvector('simple', lines))
                    ON CONFLICT (sha256, model) DO UPDATE SET body = EXCLUDED.body, words = EXCLUDED.words;
                END IF;
                RETURN NULL;
            END $$
            """,
            """
            CREATE TRIGGER analysis_text_changed AFTER INSERT OR DELETE ON analyses
                FOR EACH ROW EXECUTE FUNCTION iris_analysis_text()
            """,
            """
            DO $$
            DECLARE
                r RECORD;
                lines TEXT;
            BEGIN
                FOR r IN SELECT sha256, model, result FROM analyses LOOP
                    BEGIN
                        SELECT string_agg(line ->> 'text', E'\\n') INTO lines
                        FROM jsonb_array_elements(r.result::jsonb -> 'text') AS line;
                    EXCEPTION WHEN others THEN
                        lines := NULL;
                    END;
                    IF lines IS NOT NULL THEN
                        INSERT INTO analysis_text (sha256, model, body, words)
                        VALUES (r.sha256, r.model, lines, to_tsvector('simple', lines)) ON CONFLICT DO NOTHING;
                    END IF;
                END LOOP;
            END $$
            """,
        ]
    )
}
