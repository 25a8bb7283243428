import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// What has happened and what is running: the history page (the audit log) and the jobs page.
/// Both filter through a plain GET form, page by keyset (`cursor`: the last id shown, so a
/// page stays put however many rows arrive meanwhile) and name projects and photos the way the
/// rest of the site does, showing only what the caller may see.
struct ActivityPages {
    let store: IrisStore
    let guardian: AccessGuard
    let resources: ServerResources
    let jobs: JobController

    /// Rows a page shows: enough to fill a desktop screen twice, few enough to draw at once.
    static let pageSize = 50

    func addRoutes(to web: Routes<Router<IrisRequestContext>>) {
        web.get("history", .signedIn, use: history)
        web.get("jobs", .signedIn, use: jobsPage)
    }

    /// One choice of a filter's select.
    struct Choice {
        var value: String
        var title: String
        var selected: Bool
    }

    /// A photo shown as its thumbnail, linking to its page.
    struct Photo {
        var sha256: String
        var name: String
    }

    // MARK: History

    struct HistoryPage: PageView {
        struct Row {
            var id: Int64
            var when: String
            var whenISO: String
            var actor: String
            var action: String
            var actionWords: String
            var projectID: Int64?
            var projectName: String?
            var photo: Photo?
            var subject: String?
        }
        var title = "History"
        var events: [Row]
        var hasEvents: Bool
        var projects: [Choice]
        var actions: [Choice]
        var filtered: Bool
        var next: String?
        var newest: String?
    }

    /// The caller's events, newest first, through the project and action filters.
    @Sendable func history(_ request: Request, context: IrisRequestContext) async throws -> Response {
        var projectID: Int64?
        if let raw = Parameters.nonEmpty(request, "project_id") {
            guard raw.count <= 19, let id = Int64(raw), id > 0 else {
                throw Problem.badRequest(
                    "project_id must be a project's id, not \"\(raw.prefix(40))\"", field: "project_id")
            }
            projectID = id
        }
        var action: EventAction?
        if let raw = Parameters.nonEmpty(request, "action") {
            guard let known = EventAction(rawValue: raw) else {
                throw Problem.badRequest("action must be one of the actions the log records", field: "action")
            }
            action = known
        }
        let before = try Parameters.cursor(request)
        let visible = try await guardian.visibleProjects(context.caller)
        var projects = visible.map { Array($0).sorted() }
        if let projectID { projects = (visible?.contains(projectID) ?? true) ? [projectID] : [] }
        let seesAll = try await guardian.seesFlagged(context.caller, among: visible)
        // One more than a page: whether there is a next page without counting.
        let found = try await store.events.latest(
            EventFilter(projectIDs: projects, action: action?.rawValue), before: before, limit: Self.pageSize + 1)
        let hasMore = found.count > Self.pageSize
        let events = try await EventController.withoutHidden(
            Array(found.prefix(Self.pageSize)), seesAll: seesAll, store: store)
        let names = try await projectNames(visible: visible, including: events.compactMap(\.projectID))
        let photos = try await visiblePhotos(
            events.compactMap { event in
                guard let project = event.projectID, let subject = event.subject, Self.isPhoto(subject) else {
                    return nil
                }
                return (project, subject)
            }, seesAll: seesAll, caller: context.caller)
        let rows = events.map { event in
            let photo = event.projectID.flatMap { project in
                event.subject.flatMap { subject in
                    photos["\(project):\(subject)"].map { Photo(sha256: subject, name: $0) }
                }
            }
            return HistoryPage.Row(
                id: event.id, when: Self.shown(event.createdAt), whenISO: event.createdAt.formatted(.iso8601),
                actor: event.actorName, action: event.action, actionWords: Self.words(action: event.action),
                projectID: event.projectID, projectName: event.projectID.map { names.named($0) },
                photo: photo,
                // A photo that is gone (or not the caller's to see) keeps a short form of its hash.
                // (A project's own events name it as their subject: said once, in its column.)
                subject: photo != nil || event.subject == event.projectID.map({ names.named($0) })
                    ? nil : event.subject.map { Self.isPhoto($0) ? "photo \($0.prefix(12))…" : $0 })
        }
        var filters: [(name: String, value: String)] = []
        if let projectID { filters.append(("project_id", String(projectID))) }
        if let action { filters.append(("action", action.rawValue)) }
        let view = HistoryPage(
            events: rows, hasEvents: !rows.isEmpty,
            projects: names.choices(selected: projectID),
            actions: EventAction.allCases.map {
                Choice(value: $0.rawValue, title: Self.words(action: $0.rawValue), selected: $0 == action)
            }, filtered: !filters.isEmpty,
            next: hasMore ? Self.link("/history", filters + [("cursor", String(found[Self.pageSize - 1].id))]) : nil,
            newest: before != nil ? Self.link("/history", filters) : nil)
        return try resources.page("history", view, caller: context.caller)
    }

    // MARK: Jobs

    struct JobsPage: PageView {
        struct Row {
            var id: Int64
            var kind: String
            var kindWords: String
            var queue: String
            var state: String
            var running: Bool
            var progress: Double
            var message: String?
            var attempts: Int
            var maxAttempts: Int
            var projectID: Int64?
            var projectName: String?
            var created: String
            var createdISO: String
            var started: String?
            var took: String?
            var about: About?
            var error: String?
            var cancellable: Bool
            var retryable: Bool
        }
        /// What a job is about: a photo (shown as its thumbnail) or a page of the project.
        struct About {
            var href: String
            var text: String
            var photo: Photo?
        }
        /// One queue's jobs per state.
        struct Depth {
            var queue: String
            var queued, running, succeeded, failed, dead, cancelled: Int
        }
        var title = "Jobs"
        var jobs: [Row]
        var hasJobs: Bool
        var isAdmin = false
        var queues: [Depth] = []
        var states: [Choice]
        var kinds: [Choice]
        var projects: [Choice]
        var createdSince: String
        var createdBefore: String
        var filtered: Bool
        var next: String?
        var newest: String?
        /// The page's own address (filters and cursor), which its script reloads the rows from.
        var live: String
    }

    /// Queue depth per state (administrators) and a page of the jobs the caller may see,
    /// through the filters of `JobQuery` (the same as `GET /api/v1/jobs`).
    @Sendable func jobsPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let query = try JobQuery(request, emptyIsAny: true)
        let before = try Parameters.cursor(request)
        let visible = try await guardian.visibleProjects(context.caller)
        let found = try await store.jobs.list(query.filter(visible: visible), before: before, limit: Self.pageSize + 1)
        let hasMore = found.count > Self.pageSize
        let list = Array(found.prefix(Self.pageSize))
        let names = try await projectNames(visible: visible, including: list.compactMap(\.projectID))
        let seesAll = try await guardian.seesFlagged(context.caller, among: visible)
        let subjects = list.map { job in (job, Self.subject(of: job)) }
        let photos = try await visiblePhotos(
            subjects.compactMap { job, subject in
                guard case .photo(let sha256) = subject, let project = job.projectID else { return nil }
                return (project, sha256)
            }, seesAll: seesAll, caller: context.caller)
        let now = Date()
        let rows = subjects.map { job, subject in
            JobsPage.Row(
                id: job.id, kind: job.kind, kindWords: Self.words(kind: job.kind), queue: job.queue,
                state: job.state.rawValue, running: job.state == .running, progress: job.progress,
                message: job.progressMessage.flatMap { $0.isEmpty ? nil : $0 }, attempts: job.attempts,
                maxAttempts: job.maxAttempts,
                projectID: job.projectID, projectName: job.projectID.map { names.named($0) },
                created: Self.shown(job.createdAt), createdISO: job.createdAt.formatted(.iso8601),
                started: job.startedAt.map(Self.shown),
                took: Self.took(job, now: now),
                about: Self.about(job, subject: subject, photos: photos),
                error: job.error.flatMap { $0.isEmpty ? nil : $0 },
                cancellable: !job.state.isFinished, retryable: job.state == .dead || job.state == .failed)
        }
        let filters = query.items
        var view = JobsPage(
            jobs: rows, hasJobs: !rows.isEmpty,
            states: JobState.allCases.map {
                Choice(value: $0.rawValue, title: $0.rawValue, selected: $0 == query.state)
            },
            kinds: Set(jobs.queue.registry.kinds + [query.kind].compactMap { $0 }).sorted().map {
                Choice(value: $0, title: Self.words(kind: $0), selected: $0 == query.kind)
            }.sorted { $0.title < $1.title },
            projects: names.choices(selected: query.projectID),
            createdSince: query.createdSince.map(JobQuery.text) ?? "",
            createdBefore: query.createdBefore.map(JobQuery.text) ?? "",
            filtered: !filters.isEmpty,
            next: hasMore ? Self.link("/jobs", filters + [("cursor", String(found[Self.pageSize - 1].id))]) : nil,
            newest: before != nil ? Self.link("/jobs", filters) : nil,
            live: Self.link("/jobs", filters + (before.map { [("cursor", String($0))] } ?? [])))
        if context.caller.isAdministrator {
            view.isAdmin = true
            view.queues = try await jobs.queues(request, context: context).items.map { entry in
                let count = { (state: JobState) in entry.counts[state.rawValue] ?? 0 }
                return .init(
                    queue: entry.queue, queued: count(.queued), running: count(.running),
                    succeeded: count(.succeeded), failed: count(.failed), dead: count(.dead),
                    cancelled: count(.cancelled))
            }
        }
        return try resources.page("jobs", view, caller: context.caller)
    }

    /// What a job works on, read from its payload.
    enum Subject: Equatable {
        case photo(String)
        case repair(Int64)
        case project
        case none
    }

    static func subject(of job: Job) -> Subject {
        guard case .object(let payload) = JSONValue.parse(job.payload) else { return .none }
        if case .string(let sha256) = payload["sha256"], isPhoto(sha256) { return .photo(sha256) }
        if case .number(let id) = payload["repair_id"] { return .repair(Int64(id)) }
        if payload["project_id"] != nil { return .project }
        return .none
    }

    /// The link a job row offers: the photo, the project's repairs or model, or the project.
    static func about(_ job: Job, subject: Subject, photos: [String: String]) -> JobsPage.About? {
        guard let project = job.projectID else { return nil }
        switch subject {
        case .photo(let sha256):
            guard let name = photos["\(project):\(sha256)"] else { return nil }
            return .init(href: "/images/\(sha256)", text: name, photo: Photo(sha256: sha256, name: name))
        case .repair(let id):
            return .init(href: "/projects/\(project)/repairs", text: "Repair \(id)")
        case .project where ["classifier.train", "model.evaluate", "learner.consolidate"].contains(job.kind):
            return .init(href: "/projects/\(project)/model", text: "The project's model")
        case .project, .none:
            return nil
        }
    }

    // MARK: Shared

    /// The names of the projects a caller may see (for the filter), and of any others the rows
    /// name (an administrator's projects beyond the first 500).
    struct ProjectNames {
        var listed: [(id: Int64, name: String)]
        var byID: [Int64: String]

        func named(_ id: Int64) -> String { byID[id] ?? "project \(id) (deleted)" }

        func choices(selected: Int64?) -> [Choice] {
            listed.map { Choice(value: String($0.id), title: $0.name, selected: $0.id == selected) }
        }
    }

    func projectNames(visible: Set<Int64>?, including ids: [Int64]) async throws -> ProjectNames {
        let projects = try await store.projects.list(after: nil, limit: 500, only: visible.map { Array($0) })
        var byID = Dictionary(projects.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        for id in Set(ids) where byID[id] == nil {
            if let project = try await store.projects.find(id: id) { byID[id] = project.name }
        }
        return ProjectNames(
            listed: projects.map { ($0.id, $0.name) }.sorted {
                $0.name.localizedStandardCompare($1.name) == .orderedAscending
            }, byID: byID)
    }

    /// Which of `subjects` (project, photo) the caller may see, by "project:sha256", with the
    /// name each was uploaded under: the photo is still in the project and, where the caller is
    /// not an editor (`seesAll`, nil for everywhere), readable by the photo page's own rule
    /// (`AccessGuard.requireView`: accepted, and not flagged unless an editor reviewed it).
    func visiblePhotos(_ subjects: [(Int64, String)], seesAll: Set<Int64>?, caller: Caller) async throws
        -> [String: String]
    {
        var names: [String: String] = [:]
        var seen: Set<String> = []
        var readable: [String: Set<Int64>] = [:]
        for (project, sha256) in subjects where seen.insert("\(project):\(sha256)").inserted {
            guard let member = try await store.images.member(sha256: sha256, of: project) else { continue }
            if let seesAll, !seesAll.contains(project) {
                if readable[sha256] == nil {
                    let memberships = (try? await guardian.requireView(image: sha256, caller: caller)) ?? []
                    readable[sha256] = Set(memberships.map(\.projectID))
                }
                guard readable[sha256]?.contains(project) == true else { continue }
            }
            names["\(project):\(sha256)"] = member.originalName ?? "photo \(sha256.prefix(12))"
        }
        return names
    }

    static func isPhoto(_ subject: String) -> Bool {
        subject.count == 64 && subject.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// `/path?name=value&…`, each part percent-encoded.
    static func link(_ path: String, _ items: [(name: String, value: String)]) -> String {
        var components = URLComponents()
        components.path = path
        components.queryItems = items.isEmpty ? nil : items.map { URLQueryItem(name: $0.name, value: $0.value) }
        return (components.string ?? path).replacingOccurrences(of: "+", with: "%2B")
    }

    /// A time as the pages show it: to the second, in UTC (the column says so).
    static func shown(_ date: Date) -> String {
        date.formatted(
            Date.ISO8601FormatStyle(dateTimeSeparator: .space, timeZone: .gmt).year().month().day()
                .time(includingFractionalSeconds: false))
    }

    /// How long a job took: its last attempt's start to its end, or to now while it runs.
    static func took(_ job: Job, now: Date) -> String? {
        guard let started = job.startedAt else { return nil }
        if let finished = job.finishedAt { return duration(finished.timeIntervalSince(started)) }
        return job.state == .running ? duration(now.timeIntervalSince(started)) + " so far" : nil
    }

    /// A duration in the largest units that keep it readable: "0.4 s", "12 s", "3 min 4 s", "2 h 5 min".
    static func duration(_ seconds: Double) -> String {
        let seconds = max(seconds, 0)
        if seconds < 10 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 60 { return "\(whole) s" }
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        return "\(whole / 3600) h \(whole % 3600 / 60) min"
    }

    /// Job kinds in words, for the rows and the kind filter.
    static let kindWords: [String: String] = [
        "image.thumbnails": "Make thumbnails",
        "image.analyze": "Analyse a photo",
        "embeddings.backfill": "Embed every photo with a vision–language model",
        "image.repair": "Repair a photo",
        "maintenance.cleanup": "Clean up storage",
        "diagnostic": "Diagnostic",
        "webhook.deliver": "Deliver a webhook",
        "project.export": "Export a project",
        "project.report": "Check labels / lay out the map",
        "label-check": "Check labels",
        "map": "Lay out the map",
        "learner.consolidate": "Update the learner",
        "classifier.train": "Train a classifier",
        "model.evaluate": "Evaluate a model",
    ]

    static func words(kind: String) -> String {
        kindWords[kind] ?? kind.replacingOccurrences(of: ".", with: " ").replacingOccurrences(of: "_", with: " ")
    }

    /// "image.uploaded" as "image uploaded".
    static func words(action: String) -> String {
        action.replacingOccurrences(of: ".", with: " ").replacingOccurrences(of: "_", with: " ")
    }
}
