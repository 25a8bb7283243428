public import Foundation

/// A project's subscription to its events: each matching event is POSTed to `url`,
/// signed with `secret`, by a delivery job.
public struct Webhook: Sendable, Equatable {
    public var id: Int64
    public var projectID: Int64
    public var url: String
    /// Shared with the receiver to check signatures; shown once, at creation.
    public var secret: String
    /// Event actions (`image.uploaded`, …) to deliver; `*` means all.
    public var eventTypes: [String]
    public var active: Bool
    public var createdBy: Int64?
    public var createdAt: Date

    public init(
        id: Int64, projectID: Int64, url: String, secret: String, eventTypes: [String], active: Bool, createdBy: Int64?,
        createdAt: Date
    ) {
        self.id = id
        self.projectID = projectID
        self.url = url
        self.secret = secret
        self.eventTypes = eventTypes
        self.active = active
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    public func wants(_ action: String) -> Bool { eventTypes.contains("*") || eventTypes.contains(action) }
}

/// The payload of a `webhook.deliver` job.
public struct WebhookDelivery: Sendable, Codable, Equatable {
    public var webhookID: Int64
    public var eventID: Int64

    public init(webhookID: Int64, eventID: Int64) {
        self.webhookID = webhookID
        self.eventID = eventID
    }

    public static let kind = "webhook.deliver"

    enum CodingKeys: String, CodingKey {
        case webhookID = "webhook_id"
        case eventID = "event_id"
    }
}
