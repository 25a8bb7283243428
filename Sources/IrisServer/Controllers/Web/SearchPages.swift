import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// Finding photos on the web: search results as a gallery with each photo's reasons, and a
/// project's near-duplicates side by side with a button to keep one of each group.
struct SearchPages {
    let store: IrisStore
    let duplicates: Duplicates
    let resources: ServerResources
    /// The search itself is `GET /api/v1/search`'s, so the page and the API rank alike.
    let search: SearchController

    func addRoutes(to web: Routes<Router<IrisRequestContext>>) {
        web.get("search", .signedIn, use: searchPage)
        web.get("projects/{id}/duplicates", .project(.editor), use: duplicatesPage)
    }

    struct ResultsPage: PageView {
        struct Result {
            var sha256: String
            var percent: Int
            var reasons: String
        }
        var title = "Search"
        var query: String
        var projectID: String?
        var error: String?
        var searched = false
        var results: [Result] = []
        var hasResults = false
        /// The words searched for (nil when the query held only filler words).
        var terms: String?
        var next: String?
    }

    /// The same search as the API, as a gallery with each photo's score and reasons.
    @Sendable func searchPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let raw = query.get("q").map { String($0) } ?? ""
        var view = ResultsPage(query: raw, projectID: query.get("project_id").map { String($0) })
        if !raw.trimmingCharacters(in: .whitespaces).isEmpty {
            do {
                let body = try await search.search(request, context: context)
                view.results = body.items.map { item in
                    .init(
                        sha256: item.sha256, percent: Int((item.score * 100).rounded()),
                        reasons: item.reasons.map(Self.describe).joined(separator: "; "))
                }
                view.hasResults = !body.items.isEmpty
                view.searched = true
                let terms = body.terms.map(\.text).joined(separator: ", ")
                view.terms = terms.isEmpty ? nil : terms
                if let next = body.nextCursor {
                    var link = "/search?q=\(Self.escape(raw))&cursor=\(next)"
                    if let project = view.projectID { link += "&project_id=\(project)" }
                    for name in ["label", "model_label", "from", "to", "flagged"] {
                        if let value = query.get(name) { link += "&\(name)=\(Self.escape(String(value)))" }
                    }
                    view.next = link
                }
            } catch let problem as Problem {
                view.error = problem.detail
            }
        }
        return try resources.page("search", view, caller: context.caller)
    }

    /// Why a photo matched, in a few words.
    static func describe(_ reason: APIModel.SearchBody.Reason) -> String {
        switch reason.kind {
        case "model_label":
            "\(reason.matched.split(separator: ",").first ?? "") (\(Int(reason.score * 100))%)"
                + (reason.path.count > 1 ? " ⊂ " + reason.path.dropFirst().joined(separator: " ⊂ ") : "")
        case "label": "label \(reason.matched)"
        case "meaning": "means \(reason.matched.split(separator: ",").first ?? "") (\(Int(reason.score * 100))%)"
        case "vision_language": "looks like it to \(reason.matched) (\(Int(reason.score * 100))%)"
        default: "text “\(reason.matched.prefix(60))”"
        }
    }

    private static func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    struct DuplicatesPage: PageView {
        struct Group {
            var images: [Member]
        }
        struct Member {
            var sha256: String
            var short: String
            var pixels: String
            var why: String
            /// The group's other photos, which keeping this one takes out.
            var others: String
            var suggested: Bool
        }
        var title: String
        var projectID: Int64
        var projectName: String
        var groups: [Group]
        var hasGroups: Bool
        var checked: Int
        var partial: String?
        var unhashed: String?
    }

    /// Each group's photos side by side, a button to keep each (the first is suggested: it has
    /// the most pixels).
    @Sendable func duplicatesPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let report = try await duplicates.find(in: project.id)
        let groups = report.groups.map { group in
            let all = group.members.map(\.sha256)
            return DuplicatesPage.Group(
                images: group.members.enumerated().map { position, member in
                    var why: [String] = []
                    if position == 0 {
                        why.append("suggested: most pixels")
                    } else {
                        if let bits = member.hashDistance { why.append("\(bits) of 64 bits apart") }
                        if let similarity = member.similarity {
                            why.append(String(format: "%.0f%% alike", Double(similarity) * 100))
                        }
                    }
                    return .init(
                        sha256: member.sha256, short: String(member.sha256.prefix(10)),
                        pixels: "\(member.pixels / 1000) k pixels", why: why.joined(separator: " · "),
                        others: all.filter { $0 != member.sha256 }.joined(separator: ","), suggested: position == 0)
                })
        }
        var view = DuplicatesPage(
            title: "Duplicates in \(project.name)", projectID: project.id, projectName: project.name, groups: groups,
            hasGroups: !groups.isEmpty, checked: report.images)
        if !report.complete { view.partial = "Only the first \(report.images) images were compared." }
        if report.unhashed > 0 {
            view.unhashed = "\(report.unhashed) images are not hashed yet: reload the page to compare them too."
        }
        return try resources.page("duplicates", view, caller: context.caller)
    }
}
