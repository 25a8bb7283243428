import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// Review of contributions: `GET …/review` lists the queue with suggestions, `POST …/review`
/// records decisions (editors and up).
struct ReviewController {
    let store: IrisStore
    let review: Review

    func addRoutes(to api: Routes<RouterGroup<IrisRequestContext>>) {
        api.get("projects/{id}/review", .project(.editor), use: queue)
        api.post("projects/{id}/review", .project(.editor), use: decide)
    }

    struct QueueBody: ResponseEncodable {
        struct Item: Encodable, Sendable {
            var sha256: String
            var originalName: String?
            var addedAt: Date
            var review: ReviewState
            /// The human labels the photo has now (the contributor's, until someone changes them).
            var labels: [String]
            /// The contributor link it came through, by name.
            var link: String?
            var suggestions: [Review.Suggestion]
            /// How likely the learner finds the photo's label right (absent when it cannot say).
            var labelConfidence: Double?
            var urls: APIModel.ImageURLs
        }
        var items: [Item]
        var counts: [String: Int]
    }

    @Sendable func queue(_ request: Request, context: IrisRequestContext) async throws -> QueueBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let state = try Parameters.review(request) ?? .pending
        let order = try Parameters.choice(request, "order", of: Review.Order.self) ?? .newest
        let items = try await review.queue(
            in: project, state: state, order: order, limit: try Parameters.limit(request, default: 50, max: 500))
        var counts = Dictionary(
            uniqueKeysWithValues: try await store.reviews.counts(projectID: project.id).map {
                ($0.key.rawValue, $0.value)
            })
        // The useful order lists accepted photos without a label too: the page counts them.
        if order == .useful { counts["unlabelled"] = try await store.reviews.unlabelled(projectID: project.id) }
        return QueueBody(
            items: items.map { item in
                QueueBody.Item(
                    sha256: item.member.image.sha256, originalName: item.member.originalName,
                    addedAt: item.member.addedAt, review: item.member.review,
                    labels: item.member.labels.filter { $0.source == Label.humanSource }.map(\.name),
                    link: item.linkName, suggestions: item.suggestions, labelConfidence: item.labelConfidence,
                    urls: APIModel.ImageURLs(sha256: item.member.image.sha256))
            },
            counts: counts)
    }

    struct DecideRequest: Decodable {
        struct Decision: Decodable {
            var sha256: String
            var action: ReviewDecision.Action
            var labels: [String]?
        }
        var decisions: [Decision]
    }

    struct DecideBody: ResponseEncodable {
        var decided: Int
        /// The label change made by accepts that relabelled (absent when none did).
        var operation: Int64?
    }

    @Sendable func decide(_ request: Request, context: IrisRequestContext) async throws -> DecideBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let body = try await request.decode(as: DecideRequest.self, context: context)
        for decision in body.decisions { try Parameters.checkSHA256(decision.sha256, field: "decisions") }
        let outcome = try await review.decide(
            body.decisions.map { ReviewDecision(sha256: $0.sha256, action: $0.action, labels: $0.labels) },
            in: project, by: context.caller)
        return DecideBody(decided: outcome.decided, operation: outcome.labels.operation)
    }
}
