extension Migration {
    /// What models said about images: one row per (image, model) with the typed result,
    /// the top labels of classifiers (for filtering galleries), embeddings, the moderation
    /// score on the image, each project's moderation threshold, and reviews of flagged images.
    static let analyses = Migration(
        id: "2026-11-23-analyses",
        portable: [
            """
            CREATE TABLE analyses (
                sha256 TEXT NOT NULL REFERENCES images(sha256) ON DELETE CASCADE,
                model TEXT NOT NULL,
                result TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (sha256, model))
            """,
            """
            CREATE TABLE model_labels (
                sha256 TEXT NOT NULL REFERENCES images(sha256) ON DELETE CASCADE,
                model TEXT NOT NULL,
                rank BIGINT NOT NULL,
                label TEXT NOT NULL,
                score DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (sha256, model, rank))
            """,
            "CREATE INDEX model_labels_by_label ON model_labels(label, sha256)",
            """
            CREATE TABLE embeddings (
                sha256 TEXT NOT NULL REFERENCES images(sha256) ON DELETE CASCADE,
                model TEXT NOT NULL,
                dimension BIGINT NOT NULL,
                vector TEXT NOT NULL,
                PRIMARY KEY (sha256, model))
            """,
            "ALTER TABLE images ADD COLUMN moderation DOUBLE PRECISION",
            "ALTER TABLE projects ADD COLUMN moderation_threshold DOUBLE PRECISION",
            "ALTER TABLE project_images ADD COLUMN reviewed_at BIGINT",
        ]
    )
}
