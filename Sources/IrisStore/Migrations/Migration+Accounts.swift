extension Migration {
    /// Users, their sessions and API tokens, project roles, and the append-only event log.
    /// Secrets are never stored: passwords as bcrypt hashes, session ids and tokens as SHA-256.
    static let accounts = Migration(
        id: "2026-11-23-accounts",
        portable: [
            """
            CREATE TABLE users (
                id {IDENTITY},
                username TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                is_admin BIGINT NOT NULL DEFAULT 0,
                disabled BIGINT NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL)
            """,
            """
            CREATE TABLE sessions (
                id_hash TEXT PRIMARY KEY,
                user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                csrf_token TEXT NOT NULL,
                expires_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL)
            """,
            """
            CREATE TABLE api_tokens (
                id {IDENTITY},
                user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                scopes TEXT NOT NULL,
                project_id BIGINT REFERENCES projects(id) ON DELETE CASCADE,
                expires_at BIGINT,
                revoked_at BIGINT,
                last_used_at BIGINT,
                created_at BIGINT NOT NULL)
            """,
            """
            CREATE TABLE project_members (
                project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                role TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (project_id, user_id))
            """,
            "CREATE INDEX project_members_by_user ON project_members(user_id)",
            """
            CREATE TABLE events (
                id {IDENTITY},
                actor_kind TEXT NOT NULL,
                actor_id BIGINT,
                actor_name TEXT NOT NULL,
                action TEXT NOT NULL,
                project_id BIGINT,
                subject TEXT,
                detail TEXT,
                created_at BIGINT NOT NULL)
            """,
            "CREATE INDEX events_by_project ON events(project_id, id)",
        ]
    )
}
