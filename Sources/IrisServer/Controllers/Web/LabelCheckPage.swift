import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// "Check labels" (`/projects/{id}/check`, editors and up): the label check's likely mistakes
/// first, each with its suggested fix (keys: Enter or A accept the suggestion, 1–9 another
/// label, S keep, Z undo, J/K move), the dataset's other problems, and the map of the project's photos with the mistakes
/// lit up, from which a box or lasso selection is relabelled. The page draws everything from
/// `GET …/label-issues` and `GET …/map` (`check.js`).
struct LabelCheckPage {
    let store: IrisStore
    let resources: ServerResources

    func addRoutes(to web: Routes<Router<IrisRequestContext>>) {
        web.get("projects/{id}/check", .project(.editor), use: page)
    }

    struct View: PageView {
        var title: String
        var projectID: Int64
        var projectName: String
        /// The project's label set, offered when relabelling (empty: free labels).
        var labelChoices: [String]
    }

    @Sendable func page(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let view = View(
            title: "Check labels of \(project.name)", projectID: project.id, projectName: project.name,
            labelChoices: project.labelSet ?? [])
        return try resources.page("check", view, caller: context.caller)
    }
}
