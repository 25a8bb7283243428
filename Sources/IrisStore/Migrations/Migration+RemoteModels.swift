extension Migration {
    /// Remote models registered over the API (models in the folder are not in the database).
    static let remoteModels = Migration(
        id: "2026-11-25-remote-models",
        portable: [
            """
            CREATE TABLE registered_models (
                name TEXT PRIMARY KEY,
                manifest TEXT NOT NULL,
                created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
                created_at BIGINT NOT NULL)
            """
        ])
}
