extension Migration {
    /// Image repair: every request, kept as the project's history.
    static let repairs = Migration(
        id: "2026-12-02-repairs",
        portable: [
            """
            CREATE TABLE repairs (
                id {IDENTITY},
                project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                source_sha256 TEXT NOT NULL,
                mask_sha256 TEXT NOT NULL,
                result_sha256 TEXT,
                method TEXT NOT NULL,
                domain BIGINT NOT NULL DEFAULT 0,
                seed BIGINT NOT NULL,
                state TEXT NOT NULL,
                job_id BIGINT,
                requested_by TEXT NOT NULL,
                error TEXT,
                timings TEXT,
                discarded BIGINT NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL,
                finished_at BIGINT)
            """,
            "CREATE INDEX repairs_by_project ON repairs(project_id, id)",
            "CREATE INDEX repairs_by_result ON repairs(result_sha256)",
        ]
    )

    /// A project's default for repairs' `domain` (patches from its similar photos too).
    static let repairDefaults = Migration(
        id: "2026-12-03-repair-defaults",
        portable: ["ALTER TABLE projects ADD COLUMN repair_domain BIGINT NOT NULL DEFAULT 0"]
    )
}
