import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// The label check (`GET …/label-issues`): probably wrong labels first, with the label each
/// probably should be, and the dataset's other problems; `GET …/map`, the project's photos laid
/// out in two dimensions. Editors and up, who see every photo of the gallery (flagged ones too).
struct LabelCheckController {
    let store: IrisStore
    let quality: LabelQuality
    let photoMap: PhotoMap

    func addRoutes(to api: Routes<RouterGroup<IrisRequestContext>>) {
        api.get("projects/{id}/label-issues", .project(.editor), use: issues)
        api.get("projects/{id}/map", .project(.editor), use: map)
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
        /// The learning curve small classes are measured against (absent before the first report).
        var classSize: LabelQuality.ClassSize?
        var outliers: [LabelQuality.Outlier]
    }

    @Sendable func issues(_ request: Request, context: IrisRequestContext) async throws -> EditedResponse<Body> {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let limit = try Parameters.limit(request, default: 50, max: LabelQuality.keptIssues)
        let current = try await quality.current(projectID: project.id)
        guard let report = current.body else {
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
                smallClasses: report.smallClasses, classSize: report.classSize, outliers: report.outliers))
    }

    struct MapBody: Encodable, Sendable {
        struct Points: Encodable, Sendable {
            var sha256: [String]
            var x: [Float]
            var y: [Float]
            /// Index into `labels` of the photo's first human label (-1: none).
            var label: [Int]
            /// 0 accepted, 1 pending, 2 rejected.
            var review: [Int]
            /// Index into `classes` of the learner's answer when the layout was made (-1: unknown).
            var answer: [Int]
            /// 0 none, 1 below its class's usual (a label-check issue), 2 likely wrong.
            var issue: [Int]
        }
        var state: String
        var stale: Bool
        var jobId: Int64?
        var computedAt: Date?
        var model: String?
        var labels: [String]
        var classes: [String]
        var points: Points
        /// When the label check the `issue` colours come from was computed (absent: none yet).
        var checkedAt: Date?
    }

    @Sendable func map(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let current = try await photoMap.current(projectID: project.id)
        let empty = MapBody.Points(sha256: [], x: [], y: [], label: [], review: [], answer: [], issue: [])
        guard let layout = current.body else {
            return try Self.json(
                MapBody(
                    state: "computing", stale: false, jobId: current.job?.id, labels: [], classes: [], points: empty),
                status: .accepted)
        }
        let members = try await store.reports.memberLabels(projectID: project.id)
        let known = Dictionary(members.map { ($0.sha256, $0) }, uniquingKeysWith: { a, _ in a })
        let labels = Array(Set(members.flatMap(\.labels))).sorted()
        let labelIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        let check = try? await quality.kept(projectID: project.id)?.body
        var issues: [String: Int] = [:]
        for issue in check?.issues ?? [] { issues[issue.sha256] = issue.likely ? 2 : 1 }
        var points = empty
        for (index, sha256) in layout.sha256s.enumerated() {
            // A photo removed since the layout was made is left out.
            guard let member = known[sha256] else { continue }
            points.sha256.append(sha256)
            points.x.append(layout.x[index])
            points.y.append(layout.y[index])
            points.label.append(member.labels.first.flatMap { labelIndex[$0] } ?? -1)
            points.review.append(member.review == "pending" ? 1 : member.review == "rejected" ? 2 : 0)
            points.answer.append(index < layout.answers.count ? layout.answers[index] : -1)
            points.issue.append(issues[sha256] ?? 0)
        }
        let head = MapBody(
            state: "ready", stale: current.stale, jobId: current.job?.id, computedAt: layout.computedAt,
            model: layout.model, labels: labels, classes: layout.classes, points: empty, checkedAt: check?.computedAt)
        return try Self.json(head, status: .ok, points: points)
    }

    /// The map as JSON. Its point arrays (350,000 values for 50,000 photos) are written here
    /// rather than by JSONEncoder, coordinates to 4 decimals (a 10,000-pixel-wide map): the
    /// generic encoder took most of a 50,000-photo request.
    static func json(_ head: MapBody, status: HTTPResponse.Status, points: MapBody.Points? = nil) throws -> Response {
        let encoder = IrisJSON.makeEncoder()
        var text = String(decoding: try encoder.encode(head), as: UTF8.self)
        if let points {
            let placeholder = String(decoding: try encoder.encode(head.points), as: UTF8.self)
            guard let range = text.range(of: "\"points\":" + placeholder) else {
                throw Refusal.unavailable("the map could not be written")
            }
            text.replaceSubrange(range, with: "\"points\":" + Self.pointsJSON(points))
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func pointsJSON(_ points: MapBody.Points) -> String {
        var out = ""
        out.reserveCapacity(points.sha256.count * 110)
        func integers(_ name: String, _ values: [Int]) {
            out += "\"\(name)\":["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                out += String(value)
            }
            out += "]"
        }
        func coordinates(_ name: String, _ values: [Float]) {
            out += "\"\(name)\":["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                let scaled = Int((Double(min(max(value, 0), 1)) * 10_000).rounded())
                if scaled >= 10_000 {
                    out += "1"
                } else {
                    let digits = String(scaled)
                    out += "0." + String(repeating: "0", count: 4 - digits.count) + digits
                }
            }
            out += "]"
        }
        out += "{"
        integers("answer", points.answer)
        out += ","
        integers("issue", points.issue)
        out += ","
        integers("label", points.label)
        out += ","
        integers("review", points.review)
        out += ",\"sha256\":["
        for (index, sha256) in points.sha256.enumerated() {
            // Hashes are lowercase hex (checked on the way in): nothing to escape.
            out += index > 0 ? ",\"" : "\""
            out += sha256
            out += "\""
        }
        out += "],"
        coordinates("x", points.x)
        out += ","
        coordinates("y", points.y)
        out += "}"
        return out
    }
}
