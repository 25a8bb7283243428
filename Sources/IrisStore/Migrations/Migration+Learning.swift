extension Migration {
    /// The incremental learner per project (learner, its classes and members), trained
    /// classification heads (versioned) and every evaluation run.
    static let learning = Migration(
        id: "2026-11-24-learning",
        portable: [
            """
            CREATE TABLE learners (
                project_id BIGINT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
                model TEXT NOT NULL,
                dimension BIGINT NOT NULL,
                count BIGINT NOT NULL,
                class_count BIGINT NOT NULL,
                global_sum TEXT NOT NULL,
                updated_at BIGINT NOT NULL,
                consolidated_at BIGINT)
            """,
            """
            CREATE TABLE learner_classes (
                project_id BIGINT NOT NULL REFERENCES learners(project_id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                count BIGINT NOT NULL,
                feature_sum TEXT NOT NULL,
                noise_mean DOUBLE PRECISION NOT NULL,
                noise_m2 DOUBLE PRECISION NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (project_id, name))
            """,
            """
            CREATE TABLE learner_members (
                project_id BIGINT NOT NULL,
                name TEXT NOT NULL,
                sha256 TEXT NOT NULL REFERENCES images(sha256) ON DELETE CASCADE,
                added_at BIGINT NOT NULL,
                PRIMARY KEY (project_id, name, sha256),
                FOREIGN KEY (project_id, name) REFERENCES learner_classes(project_id, name) ON DELETE CASCADE)
            """,
            """
            CREATE TABLE classifiers (
                id {IDENTITY},
                project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                version BIGINT NOT NULL,
                model TEXT NOT NULL,
                classes TEXT NOT NULL,
                parameters TEXT NOT NULL,
                report TEXT NOT NULL,
                active BIGINT NOT NULL DEFAULT 0,
                job_id BIGINT,
                created_at BIGINT NOT NULL,
                UNIQUE (project_id, version))
            """,
            """
            CREATE TABLE evaluations (
                id {IDENTITY},
                project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                target TEXT NOT NULL,
                version BIGINT,
                split TEXT NOT NULL,
                report TEXT NOT NULL,
                job_id BIGINT,
                created_at BIGINT NOT NULL)
            """,
            "CREATE INDEX evaluations_by_project ON evaluations(project_id, id)",
        ]
    )
}

extension Migration {
    /// The learner's noise became each member's distance to its class before it joined (it
    /// was measured with the member inside the centroid): every learner is marked for
    /// consolidation, which recomputes the noise from the stored members (the scheduler runs
    /// one at start and every `learner.consolidate_seconds`; each project shows as a toast).
    /// And the owner's factor on the threshold, per project (kept across a learner's reset).
    static let learnerNoise = Migration(
        id: "2026-12-01-learner-noise",
        portable: [
            "UPDATE learners SET consolidated_at = NULL",
            """
            CREATE TABLE learner_settings (
                project_id BIGINT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
                threshold_scale DOUBLE PRECISION NOT NULL,
                updated_at BIGINT NOT NULL)
            """,
        ]
    )
}

extension Migration {
    /// The embedding model a project's learner and trained heads use, chosen per project
    /// (NULL: the `learner.model` setting). A factor of 1 is now stored as 1, not as a missing
    /// row, so that a row can hold a model alone.
    static let learnerModel = Migration(
        id: "2026-12-02-learner-model",
        portable: ["ALTER TABLE learner_settings ADD COLUMN model TEXT"]
    )
}
