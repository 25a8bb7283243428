/// The event types a webhook may subscribe to: the project-scoped actions of the event log.
public enum WebhookEvents {
    public static let known = [
        "image.uploaded", "image.removed", "import.completed", "link.created", "link.revoked", "member.role_set",
        "member.removed",
        "project.updated", "webhook.created", "webhook.deleted", "job.dead", "job.failed", "job.cancelled",
        "job.retried",
    ]
}
