import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// The review page (`/projects/{id}/review`, editors and up): one photo large, its labels and
/// suggestions, decided by keyboard or touch. The page draws the queue from
/// `GET /api/v1/projects/{id}/review` and sends decisions to `POST` there (`review.js`).
struct ReviewPage {
    let store: IrisStore
    let resources: ServerResources

    func addRoutes(to web: Routes<Router<IrisRequestContext>>) {
        web.get("projects/{id}/review", .project(.editor), use: page)
    }

    struct View: PageView {
        var title: String
        var projectID: Int64
        var projectName: String
        /// The project's label set, the keys 1–9 pick from (empty: free labels).
        var labelChoices: [String]
        var hasLabelSet: Bool
        /// Which uploads wait for review (`off`, `links`, `contributors`).
        var policy: String
        var reviewOff: Bool
        /// Owners (and administrators) change the policy from the page.
        var isOwner: Bool
        var policies: [Policy]
        var retentionDays: Int
        /// The order the page opens with: `useful` when many photos have no label yet.
        var orders: [Order]

        struct Order {
            var value: String
            var text: String
            var selected: Bool
        }

        struct Policy {
            var value: String
            var selected: Bool
        }
    }

    /// Photos without a label from which the page offers "worth labelling next" first.
    static let manyUnlabelled = 20

    @Sendable func page(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        var isOwner = false
        if let user = context.caller.user {
            let role = try await store.accounts.role(projectID: project.id, userID: user.id)
            isOwner = user.isAdmin || role == .owner
        }
        let unlabelled = try await store.reviews.unlabelled(projectID: project.id)
        let opening = unlabelled >= Self.manyUnlabelled ? "useful" : "suspect"
        let view = View(
            title: "Review of \(project.name)", projectID: project.id, projectName: project.name,
            labelChoices: project.labelSet ?? [], hasLabelSet: project.labelSet != nil,
            policy: project.review.rawValue, reviewOff: project.review == .off, isOwner: isOwner,
            policies: ReviewPolicy.allCases.map { .init(value: $0.rawValue, selected: $0 == project.review) },
            retentionDays: project.rejectRetentionDays,
            orders: [
                ("useful", "worth labelling next"), ("suspect", "doubtful labels first"), ("newest", "newest first"),
            ].map { .init(value: $0.0, text: $0.1, selected: $0.0 == opening) })
        return try resources.page("review", view, caller: context.caller)
    }
}
