extension Migration {
    /// The durable job queue, each attempt at a job, webhook subscriptions, and the
    /// cursors background services keep (e.g. how far the webhook dispatcher has read
    /// the event log).
    ///
    /// An attempt's record in `job_runs` is written by a trigger when a running job leaves
    /// `running`, from the row before and after the change (`run_outcome` and `run_detail`
    /// say how it ended): so finishing a job is one statement, atomic with its history. A
    /// prefetched job given back unstarted leaves with no `run_outcome` and no record.
    static let jobs = Migration(
        id: "2026-11-23-jobs",
        portable: jobTables,
        sqlite: [
            """
            CREATE TRIGGER jobs_log_run AFTER UPDATE OF state ON jobs
            WHEN OLD.state = 'running' AND NEW.state <> 'running' AND NEW.run_outcome IS NOT NULL
            BEGIN
                INSERT INTO job_runs (job_id, attempt, worker, started_at, finished_at, outcome, error, detail)
                VALUES (OLD.id, OLD.attempts, COALESCE(OLD.lease_owner, ''), COALESCE(OLD.started_at, NEW.updated_at), NEW.updated_at,
                        COALESCE(NEW.run_outcome, NEW.state), CASE WHEN NEW.run_outcome IN ('failed', 'lost') THEN NEW.error END, NEW.run_detail);
            END
            """
        ],
        postgres: [
            """
            CREATE FUNCTION iris_jobs_log_run() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO job_runs (job_id, attempt, worker, started_at, finished_at, outcome, error, detail)
                VALUES (OLD.id, OLD.attempts, COALESCE(OLD.lease_owner, ''), COALESCE(OLD.started_at, NEW.updated_at), NEW.updated_at,
                        COALESCE(NEW.run_outcome, NEW.state), CASE WHEN NEW.run_outcome IN ('failed', 'lost') THEN NEW.error END, NEW.run_detail);
                RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER jobs_log_run AFTER UPDATE OF state ON jobs FOR EACH ROW
            WHEN (OLD.state = 'running' AND NEW.state <> 'running' AND NEW.run_outcome IS NOT NULL) EXECUTE FUNCTION iris_jobs_log_run()
            """,
        ])

    private static let jobTables = [
        """
        CREATE TABLE jobs (
            id {IDENTITY},
            kind TEXT NOT NULL,
            queue TEXT NOT NULL,
            payload TEXT NOT NULL,
            priority BIGINT NOT NULL DEFAULT 0,
            state TEXT NOT NULL,
            attempts BIGINT NOT NULL DEFAULT 0,
            max_attempts BIGINT NOT NULL,
            run_after BIGINT NOT NULL,
            lease_owner TEXT,
            lease_expires_at BIGINT,
            progress DOUBLE PRECISION NOT NULL DEFAULT 0,
            progress_message TEXT,
            result TEXT,
            error TEXT,
            idempotency_key TEXT,
            cancel_requested BIGINT NOT NULL DEFAULT 0,
            run_outcome TEXT,
            run_detail TEXT,
            project_id BIGINT,
            created_at BIGINT NOT NULL,
            started_at BIGINT,
            finished_at BIGINT,
            updated_at BIGINT NOT NULL)
        """,
        // What a worker scans when it claims: waiting jobs of its queues, best first.
        "CREATE INDEX jobs_waiting ON jobs(queue, priority DESC, run_after, id) WHERE state = 'queued'",
        "CREATE INDEX jobs_leases ON jobs(lease_expires_at) WHERE state = 'running'",
        "CREATE INDEX jobs_by_project ON jobs(project_id, id)",
        // One live or succeeded job per idempotency key; failed, dead and cancelled ones step aside.
        "CREATE UNIQUE INDEX jobs_idempotency ON jobs(idempotency_key) WHERE idempotency_key IS NOT NULL AND state IN ('queued', 'running', 'succeeded')",
        """
        CREATE TABLE job_runs (
            id {IDENTITY},
            job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            attempt BIGINT NOT NULL,
            worker TEXT NOT NULL,
            started_at BIGINT NOT NULL,
            finished_at BIGINT,
            outcome TEXT NOT NULL,
            error TEXT,
            detail TEXT)
        """,
        "CREATE INDEX job_runs_by_job ON job_runs(job_id, attempt)",
        """
        CREATE TABLE webhooks (
            id {IDENTITY},
            project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            url TEXT NOT NULL,
            secret TEXT NOT NULL,
            event_types TEXT NOT NULL,
            active BIGINT NOT NULL DEFAULT 1,
            created_by BIGINT,
            created_at BIGINT NOT NULL)
        """,
        "CREATE INDEX webhooks_by_project ON webhooks(project_id)",
        "CREATE TABLE cursors (name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    ]
}
