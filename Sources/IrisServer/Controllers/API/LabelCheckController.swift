import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// The label check (`GET …/label-issues`): probably wrong labels first, with the label each
/// probably should be, and the dataset's other problems. Viewers may read it (it is made of
/// accepted photos only, as the gallery shows them).
struct LabelCheckController {
    let store: IrisStore
    let quality: LabelQuality

    func addRoutes(to api: Routes<RouterGroup<IrisRequestContext>>) {
        api.get("projects/{id}/label-issues", .project(.viewer), use: issues)
    }

    struct Issue: Encodable, Sendable {
        var sha256: String
        var labels: [String]
        var label: String
        var suggested: String?
        var labelScore: Double
        var suggestedScore: Double?
        var threshold: Double
        var likely: Bool
        var neighbours: [LabelQuality.Neighbour]
        var urls: APIModel.ImageURLs
    }

    struct Body: ResponseEncodable {
        /// `ready`, or `computing` before the first report exists.
        var state: String
        /// True when photos or labels changed since it was computed (a job is recomputing it).
        var stale: Bool
        var jobId: Int64?
        var computedAt: Date?
        var model: String?
        var labelled: Int?
        var photos: Int?
        var classes: Int?
        var belowThreshold: Int?
        var likely: Int?
        var complete: Bool?
        var issues: [Issue]
        var leaks: [LabelQuality.Leak]
        var rarePairs: [LabelQuality.RarePair]
        var smallClasses: [LabelQuality.SmallClass]
        var outliers: [LabelQuality.Outlier]
    }

    @Sendable func issues(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<Body> {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let limit = try Parameters.limit(request, default: 50, max: LabelQuality.keptIssues)
        let current = try await quality.current(projectID: project.id)
        guard let report = current.report else {
            return EditedResponse(
                status: .accepted,
                response: Body(
                    state: "computing", stale: false, jobId: current.job?.id, issues: [], leaks: [], rarePairs: [],
                    smallClasses: [], outliers: []))
        }
        let issues = report.issues.prefix(limit).map { issue in
            Issue(
                sha256: issue.sha256, labels: issue.labels, label: issue.label, suggested: issue.suggested,
                labelScore: issue.labelScore, suggestedScore: issue.suggestedScore, threshold: issue.threshold,
                likely: issue.likely, neighbours: issue.neighbours, urls: APIModel.ImageURLs(sha256: issue.sha256))
        }
        return EditedResponse(
            status: .ok,
            response: Body(
                state: "ready", stale: current.stale, jobId: current.job?.id, computedAt: report.computedAt,
                model: report.model, labelled: report.labelled, photos: report.photos, classes: report.classes,
                belowThreshold: report.belowThreshold, likely: report.likely, complete: report.complete,
                issues: Array(issues), leaks: report.leaks, rarePairs: report.rarePairs,
                smallClasses: report.smallClasses, outliers: report.outliers))
    }
}
