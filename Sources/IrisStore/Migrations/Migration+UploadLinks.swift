extension Migration {
    /// Contributor upload links, and which link brought each upload.
    static let uploadLinks = Migration(
        id: "2026-11-23-upload-links",
        portable: [
            """
            CREATE TABLE upload_links (
                id {IDENTITY},
                project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                code_hash TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                label_choices TEXT,
                expires_at BIGINT,
                max_uploads BIGINT,
                uploads BIGINT NOT NULL DEFAULT 0,
                revoked_at BIGINT,
                created_by BIGINT,
                created_at BIGINT NOT NULL)
            """,
            "ALTER TABLE project_images ADD COLUMN link_id BIGINT",
        ]
    )
}
