/// How the server treats writes.
public enum ServerMode: String, Sendable, CaseIterable {
    /// Everything is kept.
    case normal
    /// Everything works, including labelling, but nothing uploaded is kept: no blob, no row
    /// survives the response. For public demos of a real instance.
    case demo
    /// Every write is refused with 503; reading and signing in still work.
    case readOnly = "read-only"
}
