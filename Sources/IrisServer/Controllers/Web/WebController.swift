import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore
import Mustache
import NIOCore

/// Server-rendered pages: the project list and a project's gallery with its upload form.
/// The pages call the same `/api/v1` as every other client.
struct WebController {
    let store: IrisStore
    let resources: ServerResources
    let limits: IngestLimits
    let guardian: AccessGuard
    let moderation: Moderation
    /// The repair methods to offer: the built-in, then any inpainting networks.
    var repairMethods: @Sendable () -> [String] = { ["exemplar"] }

    func addRoutes(to router: Routes<Router<IrisRequestContext>>) {
        router.get("/", .signedIn, use: index)
        router.get("projects/{id}", .project(.viewer), use: project)
        router.get("projects/{id}/model", .project(.viewer), use: model)
        router.get("images/{sha256}", .image, use: image)
        router.get("projects/{id}/repairs", .project(.viewer), use: repairs)
        router.get("static/{file}", .open, use: staticFile)
        // At the root, so the service worker's scope covers /l/ (and the manifest its start_url).
        router.get("sw.js", .open) { request, context in try await staticFile(named: "sw.js", noCache: true) }
        router.get("manifest.webmanifest", .open) { request, context in
            try await staticFile(named: "manifest.webmanifest", noCache: false)
        }
    }

    @Sendable func index(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let visible = try await guardian.visibleProjects(context.caller)
        let projects = try await store.projects.list(after: nil, limit: 500, only: visible.map { Array($0) })
        let items = projects.map { project in
            IndexPage.Item(
                id: project.id, name: project.name, description: project.description,
                labels: project.labelSet?.joined(separator: ", ") ?? "")
        }
        return try resources.page(
            "index", IndexPage(projects: items, hasProjects: !items.isEmpty), caller: context.caller)
    }

    struct IndexPage: PageView {
        struct Item {
            var id: Int64
            var name: String
            var description: String
            var labels: String
        }
        var title = "Projects"
        var projects: [Item]
        var hasProjects: Bool
    }

    @Sendable func project(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let label = Parameters.nonEmpty(request, "label")
        let modelLabel = Parameters.nonEmpty(request, "model_label")
        let seesFlagged = try await moderation.seesFlagged(context.caller, in: project)
        var filter = moderation.filter(label: label, modelLabel: modelLabel, project: project, seesFlagged: seesFlagged)
        // Which contributor link brought a photo is for editors and owners (who see the links).
        let linkID = seesFlagged ? try Parameters.link(request) : nil
        filter.linkID = linkID
        let images = try await store.images.list(
            projectID: project.id, filter: filter, after: try Parameters.cursor(request), limit: 60)
        // The automatic models' guess (first by name), and this project's active head's apart:
        // another project's head never shows here.
        let byModel = try await store.analyses.topLabelsByModel(sha256s: images.items.map(\.image.sha256))
        let guesses = byModel.compactMapValues { models in
            models.filter { !LearningService.isHeadModel($0.key) }.min { $0.key < $1.key }?.value
        }
        // Only the active version's answers are kept under the head's name (activating relabels).
        let headModel = LearningService.headModelName(projectID: project.id)
        let tiles = images.items.map { member in
            ProjectPage.Tile(
                sha256: member.image.sha256, name: member.originalName ?? String(member.image.sha256.prefix(12)),
                size: "\(member.image.width)×\(member.image.height)",
                labels: member.labels.map {
                    .init(name: $0.name, source: $0.source, human: $0.source == Label.humanSource)
                },
                guess: guesses[member.image.sha256].map {
                    .init(label: $0.label, percent: Int(($0.score * 100).rounded()))
                },
                headGuess: byModel[member.image.sha256]?[headModel].map {
                    .init(label: $0.label, percent: Int(($0.score * 100).rounded()))
                },
                flagged: seesFlagged && moderation.isFlagged(member.image, in: project))
        }
        var view = ProjectPage(
            title: project.name,
            project: .init(id: project.id, name: project.name, description: project.description),
            images: tiles, hasImages: !tiles.isEmpty, labelChoices: project.labelSet ?? [],
            hasLabelSet: project.labelSet != nil,
            matching: try await store.images.count(projectID: project.id, filter: filter),
            maxUploadMB: limits.maxUploadBytes >> 20, filter: label ?? "",
            modelFilter: modelLabel ?? "",
            modelLabels: try await store.analyses.labelCounts(projectID: project.id, limit: 30).map {
                .init(label: $0.label, count: $0.count)
            })
        // Owners (and administrators) see the project's contributor links, to revoke them.
        if let user = context.caller.user {
            let role = try await store.accounts.role(projectID: project.id, userID: user.id)
            view.canEdit = user.isAdmin || (role.map { $0 >= .editor } ?? false)
            if view.canEdit {
                // Editors see where each photo came from and filter by it.
                let links = try await store.links.list(projectID: project.id)
                let names = Dictionary(uniqueKeysWithValues: links.map { ($0.id, $0.name) })
                let cameThrough = try await store.reviews.links(of: tiles.map(\.sha256), in: project.id)
                for index in view.images.indices {
                    view.images[index].link = cameThrough[view.images[index].sha256].flatMap { names[$0] }
                }
                view.linkChoices = links.map { .init(id: $0.id, name: $0.name, selected: $0.id == linkID) }
                view.hasLinkChoices = !links.isEmpty
                view.exportFormats = DatasetExport.Format.allCases.map(\.rawValue)
            }
            if user.isAdmin || role == .owner {
                view.isOwner = true
                let counts = try await store.labels.counts(projectID: project.id)
                let names = Set(counts.keys).union(project.labelSet ?? [])
                view.labelRows = names.sorted().map {
                    .init(name: $0, photos: counts[$0] ?? 0, inSet: project.labelSet?.contains($0) ?? false)
                }
                view.links = try await store.links.list(projectID: project.id).map { link -> ProjectPage.Link in
                    let refusal = link.refusal()
                    return .init(
                        id: link.id, name: link.name, labels: link.labelChoices?.joined(separator: ", ") ?? "any",
                        uploads: link.maxUploads.map { "\(link.uploads) of \($0)" } ?? "\(link.uploads)",
                        expires: link.expiresAt?.formatted(.iso8601) ?? "never", state: refusal ?? "live",
                        live: refusal == nil, projectID: project.id)
                }
                view.hasLinks = !view.links.isEmpty
            }
        }
        if let next = Parameters.encodeCursor(images.nextCursor) {
            let query = [("label", label), ("model_label", modelLabel), ("link", linkID.map(String.init))].compactMap {
                name, value in
                value.map { "&\(name)=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            }
            view.next = "/projects/\(project.id)?cursor=\(next)" + query.joined()
        }
        return try resources.page("project", view, caller: context.caller)
    }

    struct ProjectPage: PageView {
        struct Project {
            var id: Int64
            var name: String
            var description: String
        }
        struct Tile {
            struct Label {
                var name: String
                var source: String
                var human: Bool
            }
            struct Guess {
                var label: String
                var percent: Int
            }
            var sha256: String
            var name: String
            var size: String
            var labels: [Label]
            var guess: Guess?
            /// The project's active trained classifier's answer (its model labels).
            var headGuess: Guess?
            var flagged: Bool
            /// The contributor link it came through (editors see it).
            var link: String?
        }
        struct LinkChoice {
            var id: Int64
            var name: String
            var selected: Bool
        }
        struct LabelRow {
            var name: String
            var photos: Int
            /// Whether the label set names it (a label only photos carry can still be renamed).
            var inSet: Bool
        }
        struct ModelLabel {
            var label: String
            var count: Int
        }
        struct Link {
            var id: Int64
            var name: String
            var labels: String
            var uploads: String
            var expires: String
            var state: String
            var live: Bool
            var projectID: Int64
        }
        var title: String
        var project: Project
        var images: [Tile]
        var hasImages: Bool
        var labelChoices: [String]
        var hasLabelSet: Bool
        /// How many photos the gallery's filter matches (all pages): what "select all" selects.
        var matching: Int
        var maxUploadMB: Int64
        var filter: String
        var modelFilter: String
        var modelLabels: [ModelLabel]
        var canEdit = false
        var isOwner = false
        var links: [Link] = []
        var hasLinks = false
        var next: String?
        var linkChoices: [LinkChoice] = []
        var hasLinkChoices = false
        var exportFormats: [String] = []
        /// Owners: every label of the set or of a photo, with how many photos carry it.
        var labelRows: [LabelRow] = []
    }

    /// A project's repairs, newest first: before, mask and after, who asked and how it went.
    @Sendable func repairs(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let page = try await store.repairs.list(
            projectID: project.id, before: try Parameters.cursor(request), limit: 51)
        let rows = page.prefix(50).map { repair in
            RepairsPage.Row(
                id: repair.id, source: repair.sourceSHA256, state: repair.state.rawValue, who: repair.requestedBy,
                when: repair.createdAt.formatted(.iso8601), method: repair.method, domain: repair.domain,
                discarded: repair.discarded, error: repair.error ?? "",
                result: repair.discarded ? nil : repair.resultSHA256,
                seconds: RepairService.Timings.of(repair).map { String(format: "%.1f s", $0.seconds) })
        }
        var view = RepairsPage(
            title: "Repairs of \(project.name)", projectID: project.id, projectName: project.name, repairs: rows,
            hasRepairs: !rows.isEmpty, repairDomain: project.repairDomain)
        if let user = context.caller.user {
            let role = try await store.accounts.role(projectID: project.id, userID: user.id)
            view.isOwner = user.isAdmin || role == .owner
        }
        if page.count > 50, let last = page.prefix(50).last {
            view.next = "/projects/\(project.id)/repairs?cursor=\(last.id)"
        }
        return try resources.page("repairs", view, caller: context.caller)
    }

    struct RepairsPage: PageView {
        struct Row {
            var id: Int64
            var source: String
            var state: String
            var who: String
            var when: String
            var method: String
            var domain: Bool
            var discarded: Bool
            var error: String
            var result: String?
            var seconds: String?
        }
        var title: String
        var projectID: Int64
        var projectName: String
        var repairs: [Row]
        var hasRepairs: Bool
        var repairDomain: Bool
        var isOwner = false
        var next: String?
    }

    /// A project's learning: classes, classify, train, test and the test history (drawn by model.js from the API).
    @Sendable func model(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        var canEdit = false
        var isAdmin = false
        if let user = context.caller.user {
            isAdmin = user.isAdmin
            let role = try await store.accounts.role(projectID: project.id, userID: user.id)
            canEdit = isAdmin || (role.map { $0 >= .editor } ?? false)
        }
        return try resources.page(
            "model",
            ModelPage(
                title: "Model of \(project.name)", projectID: project.id, projectName: project.name, canEdit: canEdit,
                isAdmin: isAdmin),
            caller: context.caller)
    }

    struct ModelPage: PageView {
        var title: String
        var projectID: Int64
        var projectName: String
        var canEdit: Bool
        var isAdmin: Bool
    }

    /// One image: the picture, where it is, and what the models said (kept up to date by
    /// image.js from `/api/v1/analyses/{sha256}` while analyses run).
    @Sendable func image(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let sha256 = try Parameters.sha256(context)
        guard let image = try await store.images.find(sha256: sha256) else {
            throw Problem.notFound("no image has sha256 \(sha256)")
        }
        let memberships = try await guardian.requireView(image: sha256, caller: context.caller)
        // Repair: the projects holding it where the caller may repair (contributors and up).
        let repairable =
            (try? await guardian.projects(holding: sha256, role: .contributor, caller: context.caller)) ?? []
        // Label correction: the projects where the caller is an editor or more.
        let editable = Set(
            (try? await guardian.projects(holding: sha256, role: .editor, caller: context.caller)) ?? [])
        var domainDefaults: [Int64: Bool] = [:]
        for id in repairable { domainDefaults[id] = try await store.projects.find(id: id)?.repairDomain ?? false }
        let methods = repairMethods()
        // Where it was repaired from, in the projects the caller sees.
        let seen = Set(memberships.map(\.projectID))
        let repairedFrom = try await store.repairs.producing(sha256: sha256).filter { seen.contains($0.projectID) }
        // A model's label is offered as a suggestion only where the label set allows it.
        var labelSets: [Int64: [String]?] = [:]
        for membership in memberships {
            labelSets[membership.projectID] = try await store.projects.find(id: membership.projectID)?.labelSet
        }
        // Titled by the name it was uploaded under (in the first project the caller sees it in).
        var name: String?
        if let first = memberships.first {
            name = try await store.images.member(sha256: sha256, of: first.projectID)?.originalName
        }
        let view = ImagePage(
            title: name ?? "Photo \(sha256.prefix(12))", name: name ?? "Photo \(sha256.prefix(12))", sha256: sha256,
            size: "\(image.width)×\(image.height)",
            format: image.format.rawValue,
            bytes: ByteCountFormatter.string(fromByteCount: image.bytes, countStyle: .file),
            projects: memberships.map {
                ImagePage.Membership(
                    $0, labelSet: labelSets[$0.projectID] ?? nil, canEdit: editable.contains($0.projectID))
            },
            canRepair: !repairable.isEmpty,
            repairProjects: memberships.filter { repairable.contains($0.projectID) }.map {
                .init(
                    id: $0.projectID, name: $0.projectName,
                    domain: domainDefaults[$0.projectID] == true ? "true" : "false")
            },
            methodChoice: methods.count > 1,
            repairMethods: methods.map { .init(name: $0, title: RepairMethods.title(of: $0)) },
            repairChoice: repairable.count > 1,
            width: image.width, height: image.height,
            repairedFrom: repairedFrom.map {
                .init(source: $0.sourceSHA256, id: $0.id, method: $0.method, projectID: $0.projectID)
            })
        return try resources.page("image", view, caller: context.caller)
    }

    struct ImagePage: PageView {
        struct Membership {
            struct Chip {
                var name: String
                var canEdit: Bool
            }
            struct Suggestion {
                var name: String
                var source: String
                var percent: Int
                var canEdit: Bool
            }
            var id: Int64
            var name: String
            /// The human labels, as chips (removable by editors).
            var labels: [Chip]
            var hasLabels: Bool
            /// The models' labels that are not human ones yet, best first: one click makes one so.
            var suggestions: [Suggestion]
            var hasSuggestions: Bool
            /// The caller may correct the photo's labels in this project (editors and up).
            var canEdit: Bool

            /// How many of a photo's model labels are offered: the best three.
            static let suggestionCount = 3

            init(_ membership: ImageMembership, labelSet: [String]?, canEdit: Bool) {
                (id, name, self.canEdit) = (membership.projectID, membership.projectName, canEdit)
                let human = membership.labels.filter { $0.source == Label.humanSource }.map(\.name)
                labels = human.map { Chip(name: $0, canEdit: canEdit) }
                hasLabels = !human.isEmpty
                var offered: Set<String> = Set(human)
                suggestions = membership.labels
                    .filter { $0.source != Label.humanSource && labelSet?.contains($0.name) ?? true }
                    .sorted { ($0.confidence ?? 0) > ($1.confidence ?? 0) }
                    .filter { offered.insert($0.name).inserted }
                    .prefix(Self.suggestionCount)
                    .map {
                        Suggestion(
                            name: $0.name, source: $0.source, percent: Int((($0.confidence ?? 0) * 100).rounded()),
                            canEdit: canEdit)
                    }
                hasSuggestions = !suggestions.isEmpty
            }
        }
        struct RepairProject {
            var id: Int64
            var name: String
            var domain: String
        }
        struct Method {
            var name: String
            var title: String
        }
        struct Origin {
            var source: String
            var id: Int64
            var method: String
            var projectID: Int64
        }
        var title: String
        /// The name it was uploaded under, or "Photo" and the hash's start.
        var name: String
        var sha256: String
        var size: String
        var format: String
        var bytes: String
        var projects: [Membership]
        var canRepair: Bool
        var repairProjects: [RepairProject]
        var methodChoice: Bool
        var repairMethods: [Method]
        var repairChoice: Bool
        var width: Int
        var height: Int
        var repairedFrom: [Origin]
    }

    @Sendable func staticFile(_ request: Request, context: IrisRequestContext) async throws -> Response {
        try await staticFile(named: context.parameters.get("file") ?? "", noCache: false)
    }

    /// `noCache` for the service worker: browsers must see a new version at once.
    func staticFile(named name: String, noCache: Bool) async throws -> Response {
        guard let file = resources.staticFiles[name] else { throw Problem.notFound("no static file \(name)") }
        return Response(
            status: .ok,
            headers: [.contentType: file.mediaType, .cacheControl: noCache ? "no-cache" : "public, max-age=300"],
            body: .init(byteBuffer: ByteBuffer(bytes: file.data)))
    }
}
