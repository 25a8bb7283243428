import Foundation
import HTTPTypes
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// Decides whether the caller may use a route, from the route's declared `Access`,
/// the caller's role in the project and, for tokens, their scopes and project.
///
/// Outcomes: 401 when nobody is signed in (web pages redirect to the sign-in page);
/// 404 when the caller may not even see the project or image (existence is not leaked);
/// 403 when they may see it but not do this.
struct AccessGuard: Sendable {
    let store: IrisStore
    /// The server's `moderation.threshold`, for projects without their own.
    var moderationThreshold: Double = 0.8

    func check(_ access: Access, _ request: Request, _ context: IrisRequestContext) async throws {
        if access == .open { return }
        if access == .link {
            _ = try await link(context)
            return
        }
        guard let user = context.caller.user else {
            let path = request.uri.path
            if !path.hasPrefix("/api/") && !ProblemMiddleware<IrisRequestContext>.isInferenceProtocol(path)
                && AuthMiddleware.isSafe(request.method)
            {
                let next = path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "%2F"
                throw SignInRedirect(location: "/login?next=\(next)")
            }
            throw AuthMiddleware.unauthorized("sign in, or send an API token as \"Authorization: Bearer <token>\"")
        }
        let token: APIToken? = if case .token(_, let token) = context.caller { token } else { nil }
        if let token {
            let scopes = Set(token.scopes)
            let unsafe = !AuthMiddleware.isSafe(request.method)
            if unsafe && scopes.isDisjoint(with: [.write, .admin]) {
                throw Problem.forbidden("this token may only read (scope read)")
            }
            if access == .admin && !scopes.contains(.admin) {
                throw Problem.forbidden("this token lacks the admin scope")
            }
            if token.projectID != nil && access == .admin {
                throw Problem.forbidden("a token limited to one project cannot administer the instance")
            }
        }
        switch access {
        case .open, .signedIn, .link:
            return
        case .admin:
            guard user.isAdmin else { throw Problem.forbidden("only an administrator may do this") }
            guard context.caller.isAdministrator else { throw Problem.forbidden("this token lacks the admin scope") }
        case .project(let needed):
            try await require(needed, inProject: try Parameters.projectID(context), caller: context.caller)
        case .job(let needed):
            let id = try Parameters.id(context, "jobID", noun: "job")
            let missing = Problem.notFound("no job has id \(id)")
            guard let job = try await store.jobs.find(id: id) else { throw missing }
            guard let projectID = job.projectID else {
                guard context.caller.isAdministrator, token?.projectID == nil else { throw missing }
                return
            }
            if let limited = token?.projectID, limited != projectID { throw missing }
            try await require(needed, in: projectID, caller: context.caller, otherwise: missing)
        case .image:
            try await requireView(image: try Parameters.sha256(context), caller: context.caller)
        case .imageRole(let needed):
            _ = try await projects(holding: try Parameters.sha256(context), role: needed, caller: context.caller)
        case .repair(let needed):
            let id = try Parameters.id(context, "repairID", noun: "repair")
            let missing = Problem.notFound("no repair has id \(id)")
            guard let repair = try await store.repairs.find(id: id) else { throw missing }
            if let limited = token?.projectID, limited != repair.projectID { throw missing }
            try await require(needed, in: repair.projectID, caller: context.caller, otherwise: missing)
        }
    }

    /// The caller has at least `needed` in the project (administrators pass); 404 when they
    /// may not see it at all. The rule behind `.project`, for handlers that find the
    /// project in the body rather than the path.
    func require(_ needed: Role, inProject projectID: Int64, caller: Caller) async throws {
        let missing = Problem.notFound("no project has id \(projectID)")
        guard let user = caller.user else { throw missing }
        if case .token(_, let token) = caller, let limited = token.projectID, limited != projectID { throw missing }
        guard try await store.projects.find(id: projectID) != nil else { throw missing }
        try await require(needed, in: projectID, caller: caller, otherwise: missing)
    }

    /// The memberships of the image the caller may read; a 404 when there is none. The rule
    /// behind `.image`, and the filter on everything an image's routes answer: a response about
    /// an image names only these projects, so bytes shared with another project reveal nothing
    /// of it. A membership is readable when the caller may view its project (a token limited
    /// to one project: that one only) and the image is not hidden there. Flagged images (a
    /// moderation score above the project's threshold, not reviewed) are hidden from
    /// contributors and viewers everywhere: in listings and when asked for by hash alike.
    @discardableResult
    func requireView(image sha256: String, caller: Caller) async throws -> [ImageMembership] {
        let missing = Problem.notFound("no image has sha256 \(sha256)")
        guard let user = caller.user, let image = try await store.images.find(sha256: sha256) else { throw missing }
        let limited: Int64? = if case .token(_, let token) = caller { token.projectID } else { nil }
        let flaggedScore = image.moderation ?? 0
        var readable: [ImageMembership] = []
        for membership in try await store.images.memberships(sha256: sha256) {
            if let limited, membership.projectID != limited { continue }
            let seesFlagged: Bool
            if caller.isAdministrator {
                seesFlagged = true
            } else {
                guard let role = try await store.accounts.role(projectID: membership.projectID, userID: user.id) else {
                    continue
                }
                seesFlagged = role >= .editor
            }
            let flagged = flaggedScore > (membership.moderationThreshold ?? moderationThreshold) && !membership.reviewed
            // Flagged photos, and photos waiting for review or rejected: editors and up only.
            if (flagged || membership.reviewState != .accepted) && !seesFlagged { continue }
            readable.append(membership)
        }
        guard !readable.isEmpty else { throw missing }
        return readable
    }

    /// The projects holding the image where the caller may see it and holds at least `needed`:
    /// 404 when they may not see it anywhere, 403 when they may but hold too small a role.
    func projects(holding sha256: String, role needed: Role, caller: Caller) async throws -> [Int64] {
        let readable = try await requireView(image: sha256, caller: caller)
        guard let user = caller.user else { throw Problem.notFound("no image has sha256 \(sha256)") }
        var allowed: [Int64] = []
        for membership in readable {
            if caller.isAdministrator {
                allowed.append(membership.projectID)
            } else if let role = try await store.accounts.role(projectID: membership.projectID, userID: user.id),
                role >= needed
            {
                allowed.append(membership.projectID)
            }
        }
        guard !allowed.isEmpty else {
            throw Problem.forbidden("this needs the \(needed.rawValue) role in a project that holds the image")
        }
        return allowed
    }

    /// Administrators pass (a token of theirs only with the admin scope); members need
    /// `needed`; non-members get `otherwise` (a 404).
    private func require(_ needed: Role, in projectID: Int64, caller: Caller, otherwise missing: Problem) async throws {
        guard let user = caller.user else { throw missing }
        if caller.isAdministrator { return }
        guard let role = try await store.accounts.role(projectID: projectID, userID: user.id) else { throw missing }
        guard role >= needed else {
            throw Problem.forbidden(
                "this needs the \(needed.rawValue) role in project \(projectID); you are \(role.rawValue)")
        }
    }

    /// The live upload link named by the route's `{code}`: 401 when the code is malformed or
    /// unknown, 403 naming why when the link is revoked, expired or used up.
    func link(_ context: IrisRequestContext) async throws -> UploadLink {
        let code = context.parameters.get("code") ?? ""
        guard Secrets.isWellFormed(code) else {
            throw Problem.unauthorized("the upload link code is malformed", field: "code")
        }
        guard let link = try await store.links.find(codeHash: Secrets.hash(code)) else {
            throw Problem.unauthorized("the upload link is not known", field: "code")
        }
        if let refusal = link.refusal() {
            throw Problem.forbidden(refusal, slug: "link-refused", field: "code")
        }
        return link
    }

    /// Of `projects` (nil: all), those where the caller sees flagged images (editor or owner);
    /// nil: everywhere (an administrator).
    func seesFlagged(_ caller: Caller, among projects: Set<Int64>?) async throws -> Set<Int64>? {
        guard let user = caller.user else { return [] }
        if caller.isAdministrator { return nil }
        var candidates = projects
        if candidates == nil { candidates = Set(try await store.accounts.projectIDs(userID: user.id)) }
        var seen: Set<Int64> = []
        for project in candidates ?? [] {
            if let role = try await store.accounts.role(projectID: project, userID: user.id), role >= .editor {
                seen.insert(project)
            }
        }
        return seen
    }

    /// The projects a caller may list: nil means all of them (an administrator).
    func visibleProjects(_ caller: Caller) async throws -> Set<Int64>? {
        guard let user = caller.user else { return [] }
        let limited: Int64? = if case .token(_, let token) = caller { token.projectID } else { nil }
        if caller.isAdministrator { return limited.map { [$0] } }
        let mine = try await store.accounts.projectIDs(userID: user.id)
        return limited.map { mine.contains($0) ? [$0] : [] } ?? Set(mine)
    }
}

/// Anonymous visitors of web pages are sent to the sign-in page instead of getting a 401.
struct SignInRedirect: Error, HTTPResponseError {
    let location: String
    var status: HTTPResponse.Status { .seeOther }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }
}
