public import IrisCore
public import IrisStore

/// Which images a caller may see in a project listing: images whose moderation score is
/// above the project's threshold are flagged for review, and only editors, owners and
/// administrators see them until an editor approves one.
public struct Moderation: Sendable {
    public init(store: IrisStore, defaultThreshold: Double) {
        self.store = store
        self.defaultThreshold = defaultThreshold
    }

    public let store: IrisStore
    /// The server's `moderation.threshold`.
    public let defaultThreshold: Double

    public func threshold(for project: Project) -> Double { project.moderationThreshold ?? defaultThreshold }

    public func isFlagged(_ image: ImageRecord, in project: Project) -> Bool {
        (image.moderation ?? 0) > threshold(for: project)
    }

    /// The listing filter: flagged photos, and photos not accepted in review, hidden unless the
    /// caller `seesFlagged` (editors and up).
    public func filter(label: String?, modelLabel: String?, project: Project, seesFlagged: Bool) -> ImageFilter {
        ImageFilter(
            label: label, modelLabel: modelLabel, hideFlaggedAbove: seesFlagged ? nil : threshold(for: project),
            onlyAccepted: !seesFlagged)
    }

    public func seesFlagged(_ caller: Caller, in project: Project) async throws -> Bool {
        guard let user = caller.user else { return false }
        if caller.isAdministrator { return true }
        guard let role = try await store.accounts.role(projectID: project.id, userID: user.id) else { return false }
        return role >= .editor
    }
}
