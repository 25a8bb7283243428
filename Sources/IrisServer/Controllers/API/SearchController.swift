import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// Finding images: by words, by what they look like (photos similar to a photo), and a
/// project's near-duplicates.
struct SearchController {
    let similar: SimilarImages
    let text: TextSearch
    let duplicates: Duplicates
    let store: IrisStore
    let audit: AuditLog
    let guardian: AccessGuard

    func addRoutes(to api: Routes<RouterGroup<IrisRequestContext>>) {
        api.get("search", .signedIn, use: search)
        api.get("images/{sha256}/similar", .image, use: similarImages)
        api.get("projects/{id}/duplicates", .project(.editor), use: projectDuplicates)
        api.post("projects/{id}/duplicates/merge", .project(.editor), use: merge)
    }

    /// A project's groups of near-duplicates (editors and up: they see flagged images too).
    @Sendable func projectDuplicates(_ request: Request, context: IrisRequestContext) async throws
        -> APIModel.DuplicatesBody
    {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let report = try await duplicates.find(in: project.id)
        return APIModel.DuplicatesBody(
            groups: report.groups.map { group in
                .init(
                    keep: group.members[0].sha256,
                    images: group.members.map {
                        .init(
                            sha256: $0.sha256, pixels: $0.pixels, hashDistance: $0.hashDistance,
                            similarity: $0.similarity.map(Double.init), urls: .init(sha256: $0.sha256))
                    })
            }, imagesChecked: report.images, complete: report.complete, imagesUnhashed: report.unhashed,
            model: report.model, hashDistance: Duplicates.hashDistance,
            similarity: Double(Duplicates.embeddingSimilarity))
    }

    struct MergeRequest: Decodable {
        var keep: String
        var remove: [String]
    }

    /// Keeps one image of a group: the others leave the project, their labels added to it.
    @Sendable func merge(_ request: Request, context: IrisRequestContext) async throws -> APIModel.MergeBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let body = try await request.decode(as: MergeRequest.self, context: context)
        try Parameters.checkSHA256(body.keep, field: "keep")
        guard (1...100).contains(body.remove.count) else {
            throw Problem.badRequest("remove must list from 1 to 100 images, not \(body.remove.count)", field: "remove")
        }
        for sha256 in body.remove { try Parameters.checkSHA256(sha256, field: "remove") }
        guard !body.remove.contains(body.keep) else {
            throw Problem.badRequest("the image to keep cannot also be one to remove", field: "remove")
        }
        guard Set(body.remove).count == body.remove.count else {
            throw Problem.badRequest("remove lists an image twice", field: "remove")
        }
        let labels = try await duplicates.keep(body.keep, removing: body.remove, in: project.id)
        for sha256 in body.remove {
            await audit.record(
                context.caller, .imageRemoved, project: project.id, subject: sha256,
                detail: ["duplicate_of": body.keep])
        }
        await audit.record(
            context.caller, .duplicatesMerged, project: project.id, subject: body.keep,
            detail: ["removed": body.remove.joined(separator: ",")])
        return APIModel.MergeBody(
            kept: body.keep, removed: body.remove, labels: labels.map(APIModel.LabelBody.init))
    }

    /// The projects a search covers: `project_id` (which the caller must see, else 404), or
    /// every project they may see (nil: all, for an administrator).
    func scope(_ request: Request, _ context: IrisRequestContext) async throws -> Set<Int64>? {
        guard let text = request.uri.queryParameters.get("project_id") else {
            return try await guardian.visibleProjects(context.caller)
        }
        guard let id = Int64(text), id > 0 else {
            throw Problem.badRequest(
                "project_id must be a project's id (a positive whole number), not \"\(text.prefix(40))\"",
                field: "project_id")
        }
        try await guardian.require(.viewer, inProject: id, caller: context.caller)
        return [id]
    }

    /// `q` in plain words → the images that match, best first, each with why.
    @Sendable func search(_ request: Request, context: IrisRequestContext) async throws -> APIModel.SearchBody {
        let raw = request.uri.queryParameters.get("q").map { String($0) } ?? ""
        let query = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !query.isEmpty else { throw Problem.badRequest("q is required: the words to search for", field: "q") }
        guard query.count <= TextQuery.maxLength else {
            throw Problem.badRequest(
                "q must be at most \(TextQuery.maxLength) characters, not \(query.count)", field: "q")
        }
        guard !query.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Problem.badRequest("q must not contain control characters", field: "q")
        }
        let limit = try Parameters.limit(request, default: 24, max: 200)
        let allowed = try await scope(request, context)
        let filter = try Self.filter(request)
        // A cursor is the position in this query's ranking, tied to the query, scope and filter.
        let tag = Self.tag(query: query + "|" + String(describing: filter), scope: allowed)
        var offset = 0
        if let cursor = request.uri.queryParameters.get("cursor") {
            let parts = cursor.split(separator: ".", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[1] == tag, let position = Int(parts[0]), position >= 0, position < 100_000
            else {
                throw Problem.badRequest(
                    "cursor must be the next_cursor of an earlier page of this same search", field: "cursor")
            }
            offset = position
        }
        let seesFlagged = try await guardian.seesFlagged(context.caller, among: allowed)
        let answer: TextSearch.Answer
        do {
            answer = try await text.search(query, in: allowed, seesFlagged: seesFlagged, filter: filter)
        } catch is WordNet.Missing {
            // The detail names no server path: `iris search` on the server says which file is missing.
            throw Problem.unavailable(
                "text search is not set up on this server: WordNet's files or the ImageNet class list are missing")
        }
        let page = answer.hits.dropFirst(offset).prefix(limit)
        let next = offset + page.count < answer.hits.count ? "\(offset + page.count).\(tag)" : nil
        return APIModel.SearchBody(
            query: query, terms: answer.terms.map { .init(text: $0.text, wordnet: !$0.synsets.isEmpty) },
            items: page.map { hit in
                .init(
                    sha256: hit.sha256, projectId: hit.projectID, score: hit.score,
                    reasons: hit.reasons.map {
                        .init(
                            kind: $0.kind.rawValue, term: $0.term, matched: $0.matched, path: $0.path, score: $0.score)
                    }, urls: .init(sha256: hit.sha256))
            }, nextCursor: next)
    }

    /// The filters of a search: `label`, `model_label`, `from` and `to` (a date, 2024-06-30, or
    /// a time, 2024-06-30T12:00:00Z; `to` takes in the whole of a date), `flagged` (true/false).
    static func filter(_ request: Request) throws -> SearchFilter {
        let parameters = request.uri.queryParameters
        func text(_ name: String) throws -> String? {
            guard let raw = parameters.get(name).map({ String($0) }) else { return nil }
            let value = raw.trimmingCharacters(in: .whitespaces)
            guard !value.isEmpty, value.count <= 200,
                !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else {
                throw Problem.badRequest(
                    "\(name) must be a name of 1 to 200 characters with no control characters", field: name)
            }
            return value
        }
        func date(_ name: String, endOfDay: Bool) throws -> Date? {
            guard let raw = parameters.get(name).map({ String($0) }) else { return nil }
            if let time = try? Date(raw, strategy: .iso8601) { return time }
            let day = Date.ISO8601FormatStyle().year().month().day()
            guard raw.count == 10, let start = try? Date(raw, strategy: day) else {
                throw Problem.badRequest(
                    "\(name) must be a date (2024-06-30) or a time (2024-06-30T12:00:00Z), not \"\(raw.prefix(40))\"",
                    field: name)
            }
            return endOfDay ? start.addingTimeInterval(86_400) : start
        }
        var filter = SearchFilter(
            label: try text("label"), modelLabel: try text("model_label"), from: try date("from", endOfDay: false),
            to: try date("to", endOfDay: true))
        if let flagged = parameters.get("flagged") {
            guard flagged == "true" || flagged == "false" else {
                throw Problem.badRequest(
                    "flagged must be true or false, not \"\(flagged.prefix(20))\"", field: "flagged")
            }
            filter.flagged = flagged == "true"
        }
        if let from = filter.from, let to = filter.to, from >= to {
            throw Problem.badRequest("from must be before to", field: "from")
        }
        return filter
    }

    /// A short tag of the query and its scope (FNV-1a, hex): a cursor names the search it belongs to.
    static func tag(query: String, scope: Set<Int64>?) -> String {
        var hash: UInt64 = 14_695_981_039_346_656_037
        let text = query.lowercased() + "|" + (scope.map { $0.sorted().map(String.init).joined(separator: ",") } ?? "*")
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return String(hash, radix: 16)
    }

    /// The images nearest this one by embedding, among the projects the caller may see (or
    /// one of them, `project_id`), hiding what is hidden from them there; best first.
    @Sendable func similarImages(_ request: Request, context: IrisRequestContext) async throws -> APIModel.SimilarBody {
        let sha256 = try Parameters.sha256(context)
        let limit = try Parameters.limit(request, default: 12, max: 200)
        let allowed = try await scope(request, context)
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
        let names = try await store.images.originalNames(answer.hits.map { ($0.key, $0.group) })
        return APIModel.SimilarBody(
            model: answer.model, similarAbove: answer.similarAbove,
            items: answer.hits.map {
                .init(
                    sha256: $0.key, projectId: $0.group, originalName: names[$0.key],
                    similarity: Double($0.similarity), distance: 1 - Double($0.similarity), urls: .init(sha256: $0.key))
            },
            detail: answer.model == nil
                ? "this image has no embedding yet: it has not been analysed by a model that makes one" : nil)
    }
}
