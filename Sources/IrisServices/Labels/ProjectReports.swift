public import Foundation
public import IrisCore
public import IrisStore
import NIOConcurrencyHelpers

/// A report computed from a project's photos (the label check, the map), kept in
/// `project_reports` with the fingerprint of what it was computed from (`ReportFingerprint`).
/// A write never recomputes one: a reader gets the kept report, `stale` when the photos moved
/// on since, and a `project.report` job makes the next (its idempotency key holds the
/// fingerprint, so a burst of readers queues one job). Only a small project without any report
/// gets it while the request waits.
public protocol ProjectReport: Sendable {
    associatedtype Body: ReportBody
    /// The report's name in `project_reports` and in the job's payload.
    static var kind: String { get }
    var store: IrisStore { get }
    var learning: LearningService { get }
    var queue: JobQueue { get }
    /// The last report decoded per project (a 50,000-photo map is 5 MB of JSON).
    var decoded: DecodedReports<Body> { get }
    /// The part of the fingerprint the report depends on.
    static func key(_ fingerprint: ReportFingerprint) -> String
    /// Computes the report from the project's photos, with `model`'s embeddings.
    func compute(projectID: Int64, model: String, progress: @escaping @Sendable (Double, String) -> Void)
        async throws -> Body
}

/// What a kept report holds besides its content.
public protocol ReportBody: Codable, Sendable {
    var computedAt: Date { get }
}

/// What a reader gets: the kept report (nil before the first), whether the photos changed since
/// it was computed, and the job computing a newer one.
public struct KeptReport<Body: ReportBody>: Sendable {
    public var body: Body?
    public var stale: Bool
    public var job: Job?
}

/// The reports last read or computed, per project, with the stamp (fingerprint and time) they
/// were kept under: a reader whose kept report has the same stamp takes it from here instead of
/// reading and decoding it again. Another process's newer report has another stamp.
public final class DecodedReports<Body: ReportBody>: Sendable {
    struct Entry {
        var fingerprint: String
        var computedAt: Int64
        var body: Body
    }
    private let entries = NIOLockedValueBox<[Int64: Entry]>([:])
    /// Projects kept; beyond it the cache starts again (reports are rebuilt from the store).
    static var capacity: Int { 16 }

    public init() {}

    func body(projectID: Int64, fingerprint: String, computedAt: Int64) -> Body? {
        entries.withLockedValue { entries in
            entries[projectID].flatMap { $0.fingerprint == fingerprint && $0.computedAt == computedAt ? $0.body : nil }
        }
    }

    func keep(_ body: Body, projectID: Int64, fingerprint: String, computedAt: Int64) {
        entries.withLockedValue { entries in
            if entries.count >= Self.capacity, entries[projectID] == nil { entries.removeAll() }
            entries[projectID] = Entry(fingerprint: fingerprint, computedAt: computedAt, body: body)
        }
    }
}

/// Projects with at most this many photos get their first report while the request waits.
public let inlineReportMembers = 2_000

extension ProjectReport {
    /// The kept report; computed at once for a small project that has none, and queued when
    /// it is missing or stale.
    public func current(projectID: Int64) async throws -> KeptReport<Body> {
        let model = try await learning.learnerModel(projectID: projectID)
        let fingerprint = try await store.reports.fingerprint(projectID: projectID, model: model)
        let kept = try await kept(projectID: projectID)
        if let kept, kept.fingerprint == Self.key(fingerprint) {
            return KeptReport(body: kept.body, stale: false, job: nil)
        }
        if kept == nil, fingerprint.members <= inlineReportMembers {
            return KeptReport(body: try await refresh(projectID: projectID), stale: false, job: nil)
        }
        let job = try await queue.enqueue(
            try ProjectReportJob.request(
                projectID: projectID, report: Self.kind,
                idempotencyKey: "\(Self.kind):\(projectID):\(Self.key(fingerprint))")
        ).job
        return KeptReport(body: kept?.body, stale: kept != nil, job: job)
    }

    /// The kept report as it is (nil before the first) and the fingerprint it was kept under.
    public func kept(projectID: Int64) async throws -> (body: Body, fingerprint: String)? {
        guard let stamp = try await store.reports.stamp(projectID: projectID, kind: Self.kind) else { return nil }
        if let body = decoded.body(projectID: projectID, fingerprint: stamp.fingerprint, computedAt: stamp.computedAt) {
            return (body, stamp.fingerprint)
        }
        guard let stored = try await store.reports.load(projectID: projectID, kind: Self.kind) else { return nil }
        let body = try IrisJSON.makeDecoder().decode(Body.self, from: Data(stored.body.utf8))
        decoded.keep(
            body, projectID: projectID, fingerprint: stored.fingerprint,
            computedAt: Clock.milliseconds(stored.computedAt))
        return (body, stored.fingerprint)
    }

    /// Computes the project's report and keeps it, under the fingerprint read before it began
    /// (a change made meanwhile leaves it stale).
    @discardableResult
    public func refresh(projectID: Int64, progress: @escaping @Sendable (Double, String) -> Void = { _, _ in })
        async throws -> Body
    {
        let model = try await learning.learnerModel(projectID: projectID)
        let fingerprint = try await store.reports.fingerprint(projectID: projectID, model: model)
        let body = try await compute(projectID: projectID, model: model, progress: progress)
        try await store.reports.save(
            StoredReport(
                fingerprint: Self.key(fingerprint), computedAt: body.computedAt,
                body: String(decoding: try IrisJSON.makeEncoder().encode(body), as: UTF8.self)),
            projectID: projectID, kind: Self.kind)
        decoded.keep(
            body, projectID: projectID, fingerprint: Self.key(fingerprint),
            computedAt: Clock.milliseconds(body.computedAt))
        return body
    }
}

/// `project.report`: computes one of a project's kept reports (`label-check` or `map`), with
/// progress.
public struct ProjectReportJob: JobHandler {
    public static let kind = "project.report"

    public struct Payload: Codable, Sendable {
        public var projectId: Int64
        public var report: String
        public enum CodingKeys: String, CodingKey {
            case projectId = "project_id"
            case report
        }
    }

    public struct Output: Encodable, Sendable {
        public var report: String
        public var computedAt: Date
    }

    public let check: LabelQuality
    public let map: PhotoMap

    public init(check: LabelQuality, map: PhotoMap) { (self.check, self.map) = (check, map) }

    public static func request(projectID: Int64, report: String, idempotencyKey: String? = nil) throws -> JobRequest {
        try JobRequest(
            kind: kind, encoding: Payload(projectId: projectID, report: report), queue: JobSettings.Queue.ml,
            idempotencyKey: idempotencyKey, projectID: projectID)
    }

    public func validate(_ payload: Payload) throws {
        guard [LabelQuality.kind, PhotoMap.kind].contains(payload.report) else {
            throw Refusal.invalid(
                "report must be \(LabelQuality.kind) or \(PhotoMap.kind), not \"\(payload.report.prefix(40))\"",
                field: "report")
        }
    }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        let progress: @Sendable (Double, String) -> Void = { context.report(progress: $0, message: $1) }
        let computedAt =
            payload.report == PhotoMap.kind
            ? try await map.refresh(projectID: payload.projectId, progress: progress).computedAt
            : try await check.refresh(projectID: payload.projectId, progress: progress).computedAt
        return Output(report: payload.report, computedAt: computedAt)
    }
}
