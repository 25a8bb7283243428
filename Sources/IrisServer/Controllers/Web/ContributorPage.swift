import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// The phone-friendly upload page a contributor link opens (`/l/{code}`): no account, one
/// project, the link's labels.
struct ContributorPage {
    let store: IrisStore
    let guardian: AccessGuard
    let resources: ServerResources

    func addRoutes(to web: Routes<Router<IrisRequestContext>>) {
        web.get("l/{code}", .link, use: page)
    }

    struct LinkPage: PageView {
        var title: String
        var projectName: String
        var code: String
        var choices: [String]
        var hasChoices: Bool
        /// Only a capped link says how many are left.
        var uploadsLeft: String?
    }

    @Sendable func page(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let link = try await guardian.link(context)
        let project = try await store.projects.require(id: link.projectID)
        let choices = link.labelChoices ?? project.labelSet ?? []
        let view = LinkPage(
            title: "Upload to \(project.name)", projectName: project.name, code: context.parameters.get("code") ?? "",
            choices: choices, hasChoices: !choices.isEmpty,
            uploadsLeft: link.maxUploads.map { String($0 - link.uploads) })
        var response = try resources.page("link", view, caller: .anonymous)
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        return response
    }
}
