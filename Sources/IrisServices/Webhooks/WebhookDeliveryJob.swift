import Crypto
public import Foundation
public import IrisCore
public import IrisStore

/// `webhook.deliver`: POSTs one event to one webhook, signed.
///
/// Headers: `X-Iris-Event` (the action), `X-Iris-Delivery` (the job id, stable across
/// retries), `X-Iris-Timestamp` (Unix seconds) and `X-Iris-Signature: sha256=<hex>`, the
/// HMAC-SHA256 of `<timestamp>.<body>` under the webhook's secret. A 2xx answer is a
/// delivery; anything else, or no answer, is retried with backoff; 410 Gone and a
/// refused address end it at once.
struct WebhookDeliveryJob: JobHandler {
    public typealias Payload = WebhookDelivery
    public static let kind = WebhookDelivery.kind

    public struct Output: Encodable, Sendable {
        public var status: Int?
        public var skipped: String?
    }

    public struct Body: Encodable {
        public var id: Int64
        public var type: String
        public var projectID: Int64?
        public var subject: String?
        public var detail: [String: String]
        public var actor: String
        public var createdAt: Date
        public var webhookID: Int64
        public var delivery: Int64
        public var attempt: Int

        public enum CodingKeys: String, CodingKey {
            case id, type
            case projectID = "project_id"
            case subject, detail, actor
            case createdAt = "created_at"
            case webhookID = "webhook_id"
            case delivery, attempt
        }
    }

    public let store: IrisStore
    public let sender: WebhookSender

    public static func signature(secret: String, timestamp: String, body: Data) -> String {
        var message = Data(timestamp.utf8)
        message.append(UInt8(ascii: "."))
        message.append(body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + Data(code).lowercaseHex
    }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard let hook = try await store.webhooks.find(id: payload.webhookID), hook.active else {
            return Output(status: nil, skipped: "the webhook was deleted")
        }
        guard let event = try await store.events.list(afterID: payload.eventID - 1, projectIDs: nil, limit: 1).first,
            event.id == payload.eventID
        else {
            return Output(status: nil, skipped: "the event is gone")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .iso8601
        let body = try encoder.encode(
            Body(
                id: event.id, type: event.action, projectID: event.projectID, subject: event.subject,
                detail: event.detail, actor: event.actorName,
                createdAt: event.createdAt, webhookID: hook.id, delivery: context.job.id, attempt: context.job.attempts)
        )
        let timestamp = String(Int(Date().timeIntervalSince1970))
        // A webhook's URL is a bearer secret (Slack, Discord and Teams put the key in it) and
        // the receiver's reply may echo it: job errors and events reach every member of the
        // project, so they name the webhook by id and host; the whole story goes in the
        // attempt's note, which only owners are shown (`JobController`, the delivery log).
        let name = Self.name(of: hook)
        let response: WebhookSender.Response
        do {
            response = try await sender.post(
                hook.url, body: body,
                headers: [
                    ("Content-Type", "application/json"), ("User-Agent", "Iris-Webhooks/1"),
                    ("X-Iris-Event", event.action),
                    ("X-Iris-Delivery", String(context.job.id)), ("X-Iris-Timestamp", timestamp),
                    ("X-Iris-Signature", Self.signature(secret: hook.secret, timestamp: timestamp, body: body)),
                ])
        } catch let refusal as WebhookSender.BlockedURL {
            context.note("refused: \(refusal.description)")
            throw PermanentJobFailure(
                "delivery to \(name) refused: its address, or a redirect, is not allowed (owners see why in its delivery log)"
            )
        } catch {
            context.note("no response: \(error)")
            throw DeliveryFailure(webhook: name, status: nil)
        }
        context.note(
            "HTTP \(response.status) from \(response.finalURL)"
                + (response.excerpt.isEmpty ? "" : ": \(response.excerpt)"))
        switch response.status {
        case 200..<300: return Output(status: response.status, skipped: nil)
        case 410: throw PermanentJobFailure("\(name) answered 410 Gone")
        default: throw DeliveryFailure(webhook: name, status: response.status)
        }
    }

    /// How jobs and events name a webhook: its id and host, never its URL.
    public static func name(of hook: Webhook) -> String {
        "webhook \(hook.id) (\(URL(string: hook.url)?.host ?? "no host"))"
    }

    struct DeliveryFailure: Error, CustomStringConvertible {
        public let webhook: String
        public let status: Int?
        public var description: String {
            status.map { "\(webhook) answered HTTP \($0)" } ?? "\(webhook) did not answer"
        }
    }
}
