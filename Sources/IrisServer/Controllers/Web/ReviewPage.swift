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

        struct Policy {
            var value: String
            var selected: Bool
        }
    }

    @Sendable func page(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        var isOwner = false
        if let user = context.caller.user {
            let role = try await store.accounts.role(projectID: project.id, userID: user.id)
            isOwner = user.isAdmin || role == .owner
        }
        let view = View(
            title: "Review of \(project.name)", projectID: project.id, projectName: project.name,
            labelChoices: project.labelSet ?? [], hasLabelSet: project.labelSet != nil,
            policy: project.review.rawValue, reviewOff: project.review == .off, isOwner: isOwner,
            policies: ReviewPolicy.allCases.map { .init(value: $0.rawValue, selected: $0 == project.review) },
            retentionDays: project.rejectRetentionDays)
        return try resources.page("review", view, caller: context.caller)
    }
}
