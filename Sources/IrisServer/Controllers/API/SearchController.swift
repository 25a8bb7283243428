import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// Finding images by what they look like: photos similar to a photo.
struct SearchController {
    let similar: SimilarImages
    let guardian: AccessGuard

    func addRoutes(to group: Routes<RouterGroup<IrisRequestContext>>) {
        group.get("images/{sha256}/similar", .image, use: similarImages)
    }

    /// The images nearest this one by embedding, among the projects the caller may see (or
    /// one of them, `project_id`), hiding what is hidden from them there; best first.
    @Sendable func similarImages(_ request: Request, context: IrisRequestContext) async throws -> APIModel.SimilarBody {
        let sha256 = try Parameters.sha256(context)
        let limit = try Parameters.limit(request, default: 12, max: 200)
        let allowed: Set<Int64>?
        if let text = request.uri.queryParameters.get("project_id") {
            guard let id = Int64(text), id > 0 else {
                throw Problem.badRequest(
                    "project_id must be a project's id (a positive whole number), not \"\(text.prefix(40))\"",
                    field: "project_id")
            }
            try await guardian.require(.viewer, inProject: id, caller: context.caller)
            allowed = [id]
        } else {
            allowed = try await guardian.visibleProjects(context.caller)
        }
        var model: String?
        if let name = request.uri.queryParameters.get("model") {
            guard similar.embedders.contains(name) else {
                let choices = similar.embedders.joined(separator: ", ")
                throw Problem.badRequest(
                    "model must be an installed model that makes embeddings (\(choices.isEmpty ? "none is installed" : choices)), not \"\(name.prefix(60))\"",
                    field: "model")
            }
            model = name
        }
        let seesFlagged = try await guardian.seesFlagged(context.caller, among: allowed)
        let answer = try await similar.similar(
            to: sha256, model: model, in: allowed, seesFlagged: seesFlagged, limit: limit)
        return APIModel.SimilarBody(
            model: answer.model,
            items: answer.hits.map {
                .init(
                    sha256: $0.key, projectId: $0.group, similarity: Double($0.similarity),
                    distance: 1 - Double($0.similarity), urls: .init(sha256: $0.key))
            },
            detail: answer.model == nil
                ? "this image has no embedding yet: it has not been analysed by a model that makes one" : nil)
    }
}
