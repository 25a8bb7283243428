extension Migration {
    /// Reports computed from a project's photos and kept until they change: the label check
    /// and the map. `fingerprint` says what they were computed from (see
    /// `ReportRepository.fingerprint`), so a reader knows when one is stale.
    static let reports = Migration(
        id: "2026-12-06-reports",
        portable: [
            """
            CREATE TABLE project_reports (
                project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                computed_at BIGINT NOT NULL,
                body TEXT NOT NULL,
                PRIMARY KEY (project_id, kind))
            """
        ]
    )
}
