extension Migration {
    /// The token each token was created with (NULL: created in a web session or by `iris token
    /// create`), so revoking a token revokes everything created with it, transitively. Deleting a
    /// token row (its user deleted) leaves its children to their own user's cascade.
    static let tokenParents = Migration(
        id: "2026-12-06-token-parents",
        portable: [
            "ALTER TABLE api_tokens ADD COLUMN parent_id BIGINT REFERENCES api_tokens(id) ON DELETE SET NULL",
            "CREATE INDEX api_tokens_by_parent ON api_tokens(parent_id)",
        ]
    )
}
