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
        let items: [[String: Any]] = projects.map { project in
            [
                "id": project.id, "name": project.name, "description": project.description,
                "labels": project.labelSet?.joined(separator: ", ") ?? "",
            ]
        }
        return try resources.page(
            "index", ["title": "Projects", "projects": items, "hasProjects": !items.isEmpty], caller: context.caller)
    }

    @Sendable func project(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let label = Parameters.nonEmpty(request, "label")
        let modelLabel = Parameters.nonEmpty(request, "model_label")
        let seesFlagged = try await moderation.seesFlagged(context.caller, in: project)
        let filter = moderation.filter(label: label, modelLabel: modelLabel, project: project, seesFlagged: seesFlagged)
        let images = try await store.images.list(
            projectID: project.id, filter: filter, after: try Parameters.cursor(request), limit: 60)
        let guesses = try await store.analyses.topLabels(sha256s: images.items.map(\.image.sha256))
        let tiles: [[String: Any]] = images.items.map { member in
            let labels: [[String: Any]] = member.labels.map { label in
                ["name": label.name, "source": label.source, "human": label.source == Label.humanSource]
            }
            var tile: [String: Any] = [:]
            tile["sha256"] = member.image.sha256
            tile["name"] = member.originalName ?? String(member.image.sha256.prefix(12))
            tile["size"] = "\(member.image.width)×\(member.image.height)"
            tile["labels"] = labels
            if let guess = guesses[member.image.sha256] {
                tile["guess"] = ["label": guess.label, "percent": Int((guess.score * 100).rounded())]
            }
            tile["flagged"] = seesFlagged && moderation.isFlagged(member.image, in: project)
            return tile
        }
        var values: [String: Any] = [
            "title": project.name,
            "project": ["id": project.id, "name": project.name, "description": project.description],
            "images": tiles, "hasImages": !tiles.isEmpty, "labelChoices": project.labelSet ?? [],
            "hasLabelSet": project.labelSet != nil,
            "maxUploadMB": limits.maxUploadBytes >> 20, "filter": label ?? "", "modelFilter": modelLabel ?? "",
            "modelLabels": try await store.analyses.labelCounts(projectID: project.id, limit: 30).map {
                ["label": $0.label, "count": $0.count]
            },
        ]
        // Owners (and administrators) see the project's contributor links, to revoke them.
        if let user = context.caller.user {
            let role = try await store.accounts.role(projectID: project.id, userID: user.id)
            values["canEdit"] = user.isAdmin || (role.map { $0 >= .editor } ?? false)
            if user.isAdmin || role == .owner {
                values["isOwner"] = true
                let links = try await store.links.list(projectID: project.id)
                values["hasLinks"] = !links.isEmpty
                values["links"] = links.map { link -> [String: Any] in
                    let refusal = link.refusal()
                    return [
                        "id": link.id, "name": link.name, "labels": link.labelChoices?.joined(separator: ", ") ?? "any",
                        "uploads": link.maxUploads.map { "\(link.uploads) of \($0)" } ?? "\(link.uploads)",
                        "expires": link.expiresAt?.formatted(.iso8601) ?? "never", "state": refusal ?? "live",
                        "live": refusal == nil,
                        "projectID": project.id,
                    ]
                }
            }
        }
        if let next = Parameters.encodeCursor(images.nextCursor) {
            let query = [("label", label), ("model_label", modelLabel)].compactMap { name, value in
                value.map { "&\(name)=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            }
            values["next"] = "/projects/\(project.id)?cursor=\(next)" + query.joined()
        }
        return try resources.page("project", values, caller: context.caller)
    }

    /// A project's repairs, newest first: before, mask and after, who asked and how it went.
    @Sendable func repairs(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let page = try await store.repairs.list(
            projectID: project.id, before: try Parameters.cursor(request), limit: 51)
        let rows: [[String: Any]] = page.prefix(50).map { repair in
            var row: [String: Any] = [
                "id": repair.id, "source": repair.sourceSHA256, "state": repair.state.rawValue,
                "who": repair.requestedBy, "when": repair.createdAt.formatted(.iso8601), "method": repair.method,
                "domain": repair.domain, "discarded": repair.discarded, "error": repair.error ?? "",
            ]
            if let result = repair.resultSHA256, !repair.discarded { row["result"] = result }
            if let timings = RepairService.Timings.of(repair) {
                row["seconds"] = String(format: "%.1f s", timings.seconds)
            }
            return row
        }
        var values: [String: Any] = [
            "title": "Repairs of \(project.name)", "projectID": project.id, "projectName": project.name,
            "repairs": rows, "hasRepairs": !rows.isEmpty, "repairDomain": project.repairDomain,
        ]
        if let user = context.caller.user {
            let role = try await store.accounts.role(projectID: project.id, userID: user.id)
            values["isOwner"] = user.isAdmin || role == .owner
        }
        if page.count > 50, let last = page.prefix(50).last {
            values["next"] = "/projects/\(project.id)/repairs?cursor=\(last.id)"
        }
        return try resources.page("repairs", values, caller: context.caller)
    }

    /// A project's learning: classes, classify, train, test and the test history (drawn by app.js from the API).
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
            [
                "title": "Model of \(project.name)", "projectID": project.id, "projectName": project.name,
                "canEdit": canEdit, "isAdmin": isAdmin,
            ],
            caller: context.caller)
    }

    /// One image: the picture, where it is, and what the models said (kept up to date by
    /// app.js from `/api/v1/analyses/{sha256}` while analyses run).
    @Sendable func image(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let sha256 = try Parameters.sha256(context)
        guard let image = try await store.images.find(sha256: sha256) else {
            throw Problem.notFound("no image has sha256 \(sha256)")
        }
        let memberships = try await guardian.requireView(image: sha256, caller: context.caller)
        let projects: [[String: Any]] = memberships.map { membership in
            [
                "id": membership.projectID, "name": membership.projectName,
                "labels": membership.labels.map(\.name).joined(separator: ", "),
            ]
        }
        var values: [String: Any] = [
            "title": "Image \(sha256.prefix(12))", "sha256": sha256, "size": "\(image.width)×\(image.height)",
            "format": image.format.rawValue,
            "bytes": ByteCountFormatter.string(fromByteCount: image.bytes, countStyle: .file), "projects": projects,
        ]
        if let moderation = image.moderation { values["moderation"] = String(format: "%.3f", moderation) }
        // Repair: the projects holding it where the caller may repair (contributors and up).
        let repairable =
            (try? await guardian.projects(holding: sha256, role: .contributor, caller: context.caller)) ?? []
        values["canRepair"] = !repairable.isEmpty
        var domainDefaults: [Int64: Bool] = [:]
        for id in repairable { domainDefaults[id] = try await store.projects.find(id: id)?.repairDomain ?? false }
        values["repairProjects"] = memberships.filter { repairable.contains($0.projectID) }.map {
            [
                "id": $0.projectID, "name": $0.projectName,
                "domain": domainDefaults[$0.projectID] == true ? "true" : "false",
            ]
        }
        let methods = repairMethods()
        values["methodChoice"] = methods.count > 1
        values["repairMethods"] = methods.map { ["name": $0, "title": RepairService.title(of: $0)] }
        values["repairChoice"] = repairable.count > 1
        values["repairProject"] = repairable.first ?? 0
        values["repairProjectDomain"] = repairable.first.flatMap { domainDefaults[$0] } == true ? "true" : "false"
        values["width"] = image.width
        values["height"] = image.height
        // Where it was repaired from, in the projects the caller sees.
        let seen = Set(memberships.map(\.projectID))
        values["repairedFrom"] = try await store.repairs.producing(sha256: sha256).filter {
            seen.contains($0.projectID)
        }
        .map { ["source": $0.sourceSHA256, "id": $0.id, "method": $0.method, "projectID": $0.projectID] }
        return try resources.page("image", values, caller: context.caller)
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
