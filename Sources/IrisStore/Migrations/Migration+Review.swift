extension Migration {
    /// Review of contributions: a project's `review` setting (`off`, `links`, `contributors`)
    /// and how many days a rejected photo is kept; each membership's review state (`accepted`,
    /// `pending`, `rejected`; every photo before this is accepted) and who decided it, when.
    static let review = Migration(
        id: "2026-12-06-review",
        portable: [
            "ALTER TABLE projects ADD COLUMN review TEXT NOT NULL DEFAULT 'off'",
            "ALTER TABLE projects ADD COLUMN reject_retention_days BIGINT NOT NULL DEFAULT 30",
            "ALTER TABLE project_images ADD COLUMN review_state TEXT NOT NULL DEFAULT 'accepted'",
            "ALTER TABLE project_images ADD COLUMN decided_at BIGINT",
            "ALTER TABLE project_images ADD COLUMN decided_by TEXT",
            "CREATE INDEX project_images_by_review ON project_images(project_id, review_state, id)",
        ]
    )
}
