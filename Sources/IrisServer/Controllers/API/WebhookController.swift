import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// `/api/v1/projects/{id}/webhooks`: owners subscribe URLs to their project's events and
/// read every delivery attempt.
struct WebhookController {
    let store: IrisStore
    let sender: WebhookSender
    let audit: AuditLog

    struct CreateRequest: Decodable {
        var url: String
        var eventTypes: [String]?
        var secret: String?
    }

    struct WebhookBody: ResponseEncodable {
        var id: Int64
        var projectId: Int64
        var url: String
        var eventTypes: [String]
        var active: Bool
        var createdAt: Date
        /// Only in the answer to the creation.
        var secret: String?

        init(_ hook: Webhook, showingSecret: Bool = false) {
            (id, projectId, url, eventTypes, active, createdAt) = (
                hook.id, hook.projectID, hook.url, hook.eventTypes, hook.active, hook.createdAt
            )
            secret = showingSecret ? hook.secret : nil
        }
    }

    func addRoutes(to group: Routes<RouterGroup<IrisRequestContext>>) {
        group.post("projects/{id}/webhooks", .project(.owner), use: create)
        group.get("projects/{id}/webhooks", .project(.owner), use: list)
        group.delete("projects/{id}/webhooks/{webhookID}", .project(.owner), use: delete)
        group.get("projects/{id}/webhooks/{webhookID}/deliveries", .project(.owner), use: deliveries)
    }

    @Sendable func create(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<WebhookBody> {
        let projectID = try Parameters.projectID(context)
        let body = try await request.decode(as: CreateRequest.self, context: context)
        let types = body.eventTypes ?? ["*"]
        guard !types.isEmpty else {
            throw Problem.badRequest("event_types must name at least one event type, or \"*\"", field: "event_types")
        }
        for type in types where type != "*" && !WebhookEvents.known.contains(type) {
            throw Problem.badRequest(
                "unknown event type \"\(type.prefix(60))\"; known: \(WebhookEvents.known.joined(separator: ", ")) or *",
                field: "event_types")
        }
        let secret = body.secret ?? "whsec_" + Secrets.random()
        guard (16...200).contains(secret.unicodeScalars.count) else {
            throw Problem.badRequest("secret must be 16 to 200 characters", field: "secret")
        }
        guard body.url.unicodeScalars.count <= 2000 else {
            throw Problem.badRequest("url is longer than 2000 characters", field: "url")
        }
        do {
            _ = try await sender.check(body.url)
        } catch let refusal as WebhookSender.BlockedURL {
            throw Problem.badRequest(refusal.description, field: "url")
        }
        let hook = try await store.webhooks.create(
            projectID: projectID, url: body.url, secret: secret, eventTypes: Array(Set(types)).sorted(),
            createdBy: context.caller.user?.id)
        await audit.record(
            context.caller, .webhookCreated, project: projectID, subject: "webhook \(hook.id)",
            // Every member reads events; the URL is a secret, so they learn only its host.
            detail: ["host": URL(string: hook.url)?.host ?? ""])
        return EditedResponse(status: .created, response: WebhookBody(hook, showingSecret: true))
    }

    @Sendable func list(_ request: Request, context: IrisRequestContext) async throws -> APIModel.Page<WebhookBody> {
        APIModel.Page(
            items: try await store.webhooks.list(projectID: try Parameters.projectID(context)).map { WebhookBody($0) })
    }

    @Sendable func delete(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let projectID = try Parameters.projectID(context)
        let id = try Parameters.id(context, "webhookID", noun: "webhook")
        guard try await store.webhooks.delete(id: id, projectID: projectID) else {
            throw Problem.notFound("project \(projectID) has no webhook \(id)")
        }
        await audit.record(context.caller, .webhookDeleted, project: projectID, subject: "webhook \(id)")
        return Response(status: .noContent)
    }

    /// Delivery jobs of one webhook, newest first, each with every attempt.
    @Sendable func deliveries(_ request: Request, context: IrisRequestContext) async throws
        -> APIModel.Page<APIModel.JobBody>
    {
        let projectID = try Parameters.projectID(context)
        let id = try Parameters.id(context, "webhookID", noun: "webhook")
        guard let hook = try await store.webhooks.find(id: id), hook.projectID == projectID else {
            throw Problem.notFound("project \(projectID) has no webhook \(id)")
        }
        let limit = try Parameters.limit(request)
        let jobs = try await store.jobs.list(
            state: nil, kind: WebhookDelivery.kind, projectIDs: [projectID], keyPrefix: "webhook:\(id):",
            before: try Parameters.cursor(request), limit: limit)
        var items: [APIModel.JobBody] = []
        for job in jobs { items.append(APIModel.JobBody(job, runs: try await store.jobs.runs(jobID: job.id))) }
        return APIModel.Page(
            items: items, nextCursor: jobs.count == limit ? Parameters.encodeCursor(jobs.last?.id) : nil)
    }
}
