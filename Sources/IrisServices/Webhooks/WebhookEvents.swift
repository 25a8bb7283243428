public import IrisCore

/// The event types a webhook may subscribe to: the project-scoped actions of the event log.
public enum WebhookEvents {
    public static let known = EventAction.webhookEvents.map(\.rawValue)
}
