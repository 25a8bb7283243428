extension Migration {
    /// An index on every job's idempotency key, whatever its state: the unique index covers
    /// only live and succeeded jobs, and the check for images whose follow-up jobs were never
    /// queued (a duplicate upload, the cleanup sweep) asks about dead and failed ones too.
    static let hardening = Migration(
        id: "2026-12-01-job-keys",
        portable: [
            "CREATE INDEX jobs_by_key ON jobs(idempotency_key)"
        ]
    )
}
