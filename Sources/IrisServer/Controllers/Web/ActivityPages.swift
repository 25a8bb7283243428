import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// What has happened and what is running: the history page (the audit log) and the jobs page.
struct ActivityPages {
    let store: IrisStore
    let guardian: AccessGuard
    let resources: ServerResources
    let jobs: JobController

    func addRoutes(to web: Routes<Router<IrisRequestContext>>) {
        web.get("history", .signedIn, use: history)
        web.get("jobs", .signedIn, use: jobsPage)
    }

    struct HistoryPage: PageView {
        struct Row {
            var when: String
            var actor: String
            var action: String
            var project: String?
            var subject: String
        }
        var title = "History"
        var events: [Row]
        var hasEvents: Bool
    }

    /// The newest 200 events the caller may see.
    @Sendable func history(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let visible = try await guardian.visibleProjects(context.caller).map { Array($0) }
        let seesAll = try await guardian.seesFlagged(context.caller, among: visible.map(Set.init))
        let events = try await EventController.withoutHidden(
            try await store.events.latest(projectIDs: visible, limit: 200), seesAll: seesAll, store: store)
        let rows = events.map { event in
            HistoryPage.Row(
                when: event.createdAt.formatted(.iso8601), actor: event.actorName, action: event.action,
                project: event.projectID.map { "\($0)" }, subject: event.subject ?? "")
        }
        return try resources.page(
            "history", HistoryPage(events: rows, hasEvents: !rows.isEmpty), caller: context.caller)
    }

    struct JobsPage: PageView {
        struct Row {
            var id: Int64
            var kind: String
            var queue: String
            var state: String
            var progress: Double
            var message: String
            var attempts: Int
            var maxAttempts: Int
            var project: String
            var error: String
            var cancellable: Bool
            var retryable: Bool
        }
        /// One queue's jobs per state.
        struct Depth {
            var queue: String
            var queued, running, succeeded, failed, dead, cancelled: Int
        }
        var title = "Jobs"
        var jobs: [Row]
        var isAdmin = false
        var queues: [Depth] = []
    }

    /// Queue depth per state (administrators) and the newest 100 jobs the caller may see.
    @Sendable func jobsPage(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let visible = try await guardian.visibleProjects(context.caller)
        let list = try await store.jobs.list(
            state: nil, kind: nil, projectIDs: visible.map { Array($0) }, keyPrefix: nil, before: nil, limit: 100)
        var view = JobsPage(
            jobs: list.map { job in
                .init(
                    id: job.id, kind: job.kind, queue: job.queue, state: job.state.rawValue, progress: job.progress,
                    message: job.progressMessage ?? "", attempts: job.attempts, maxAttempts: job.maxAttempts,
                    project: job.projectID.map { "\($0)" } ?? "", error: job.error ?? "",
                    cancellable: !job.state.isFinished, retryable: job.state == .dead || job.state == .failed)
            })
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
}
