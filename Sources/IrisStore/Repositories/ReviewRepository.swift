public import Foundation
public import IrisCore
import SQLKit

/// An editor's decision on one photo waiting for review.
public struct ReviewDecision: Sendable, Equatable {
    public enum Action: String, Sendable, Codable, CaseIterable { case accept, reject }
    public var sha256: String
    public var action: Action
    /// On accept: the photo's human labels from now on (nil keeps the contributor's).
    public var labels: [String]?

    public init(sha256: String, action: Action, labels: [String]? = nil) {
        (self.sha256, self.action, self.labels) = (sha256, action, labels)
    }
}

/// What a batch of decisions did: how many photos were decided, the label change made by
/// relabelling accepts (nil when none), and the photos whose labels or state changed.
public struct ReviewOutcome: Sendable, Equatable {
    public var decided: Int
    public var labels: LabelOutcome
    public var sha256s: [String]
}

/// A project's review queue and the decisions on it.
public protocol ReviewRepository: Sendable {
    /// How many of the project's photos are in each review state.
    func counts(projectID: Int64) async throws -> [ReviewState: Int]
    /// Records every decision in one transaction: all or none. A photo not in the project is
    /// a 404 naming it; a relabelling accept is a label change (operation, events). `decided`
    /// and `relabelling` are the log's templates (`AuditLog.template`) of the `review.decided`
    /// and `label.changed` events, filled in per photo here.
    func decide(_ decisions: [ReviewDecision], in projectID: Int64, recording decided: Event, relabelling: Event)
        async throws -> ReviewOutcome
    /// Rejected photos decided more than their project's retention ago: (project, photo).
    func expiredRejections(now: Date, limit: Int) async throws -> [(projectID: Int64, sha256: String)]
    /// How many accepted photos of the project have no human label.
    func unlabelled(projectID: Int64) async throws -> Int
    /// The contributor link each of these photos came through, where one did.
    func links(of sha256s: [String], in projectID: Int64) async throws -> [String: Int64]
    /// Of these photos, those waiting for review or rejected in these projects, as
    /// "project:sha256".
    func unaccepted(_ sha256s: [String], in projects: [Int64]) async throws -> Set<String>
}

public struct SQLReviewRepository: ReviewRepository {
    let database: IrisDatabase

    public init(database: IrisDatabase) { self.database = database }

    public func unlabelled(projectID: Int64) async throws -> Int {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT COUNT(*) AS n FROM project_images m WHERE m.project_id = \(bind: projectID)
                AND m.review_state = 'accepted' AND NOT EXISTS (
                    SELECT 1 FROM labels l WHERE l.project_id = m.project_id AND l.sha256 = m.sha256
                    AND l.source = \(bind: Label.humanSource))
                """
            ).first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    public func counts(projectID: Int64) async throws -> [ReviewState: Int] {
        try await database.withConnection { db in
            var counts: [ReviewState: Int] = [.accepted: 0, .pending: 0, .rejected: 0]
            for row in try await db.raw(
                """
                SELECT review_state, COUNT(*) AS n FROM project_images WHERE project_id = \(bind: projectID)
                GROUP BY review_state
                """
            ).all() {
                if let state = ReviewState(rawValue: try row.decode(column: "review_state", as: String.self)) {
                    counts[state] = try row.decode(column: "n", as: Int.self)
                }
            }
            return counts
        }
    }

    public func decide(
        _ decisions: [ReviewDecision], in projectID: Int64, recording decided: Event, relabelling: Event
    ) async throws -> ReviewOutcome {
        try await database.transaction { db in
            let now = Clock.nowMilliseconds()
            var states: [String: String] = [:]
            for chunk in decisions.map(\.sha256).chunked(500) {
                for row in try await db.raw(
                    """
                    SELECT sha256, review_state FROM project_images
                    WHERE project_id = \(bind: projectID) AND sha256 IN (\(binds: chunk))
                    """
                ).all() {
                    states[try row.decode(column: "sha256", as: String.self)] = try row.decode(
                        column: "review_state", as: String.self)
                }
            }
            let missing = decisions.map(\.sha256).filter { states[$0] == nil }
            guard missing.isEmpty else {
                throw StoreError.notFound(
                    "the project holds no image " + SQLLabelRepository.listed(missing, total: missing.count))
            }
            var events: [Event] = []
            for decision in decisions {
                let state: ReviewState = decision.action == .accept ? .accepted : .rejected
                try await db.raw(
                    """
                    UPDATE project_images SET review_state = \(bind: state.rawValue), decided_at = \(bind: now),
                    decided_by = \(bind: decided.actorName) WHERE project_id = \(bind: projectID) AND sha256 = \(bind: decision.sha256)
                    """
                ).run()
                var event = decided
                event.projectID = projectID
                event.subject = decision.sha256
                event.detail = ["decision": state.rawValue, "was": states[decision.sha256] ?? ""]
                events.append(event)
            }
            try await SQLEventRepository.insert(events, at: now, on: db)
            // Relabelling accepts: one label operation for all of them, undoable like any other.
            var labels = LabelOutcome(operation: nil, changed: 0)
            let relabelled = decisions.filter { $0.action == .accept && $0.labels != nil }
            if !relabelled.isEmpty {
                let operation = try await SQLLabelRepository.begin(projectID, event: relabelling, undoes: nil, on: db)
                for decision in relabelled {
                    let current = try await SQLLabelRepository.member(decision.sha256, in: projectID, on: db)
                    try await SQLLabelRepository.stage(
                        operation, decision.sha256, from: Set(current.labels.map(\.name)), to: decision.labels ?? [],
                        in: projectID, on: db)
                }
                let changed = try await SQLLabelRepository.apply(
                    operation, nil, in: projectID, event: relabelling, bumped: false, on: db)
                if changed.isEmpty {
                    try await db.raw("DELETE FROM label_operations WHERE id = \(bind: operation)").run()
                } else {
                    labels = LabelOutcome(operation: operation, changed: changed.count, sha256s: changed)
                }
            }
            return ReviewOutcome(decided: decisions.count, labels: labels, sha256s: decisions.map(\.sha256))
        }
    }

    public func links(of sha256s: [String], in projectID: Int64) async throws -> [String: Int64] {
        try await database.withConnection { db in
            var links: [String: Int64] = [:]
            for chunk in sha256s.chunked(500) {
                for row in try await db.raw(
                    """
                    SELECT sha256, link_id FROM project_images WHERE project_id = \(bind: projectID)
                    AND sha256 IN (\(binds: chunk)) AND link_id IS NOT NULL
                    """
                ).all() {
                    links[try row.decode(column: "sha256", as: String.self)] = try row.decode(
                        column: "link_id", as: Int64.self)
                }
            }
            return links
        }
    }

    public func unaccepted(_ sha256s: [String], in projects: [Int64]) async throws -> Set<String> {
        guard !sha256s.isEmpty, !projects.isEmpty else { return [] }
        return try await database.withConnection { db in
            var found: Set<String> = []
            for chunk in sha256s.chunked(500) {
                for row in try await db.raw(
                    """
                    SELECT project_id, sha256 FROM project_images WHERE review_state <> 'accepted'
                    AND project_id IN (\(binds: projects)) AND sha256 IN (\(binds: chunk))
                    """
                ).all() {
                    found.insert(
                        "\(try row.decode(column: "project_id", as: Int64.self)):\(try row.decode(column: "sha256", as: String.self))"
                    )
                }
            }
            return found
        }
    }

    public func expiredRejections(now: Date, limit: Int) async throws -> [(projectID: Int64, sha256: String)] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT p.project_id, p.sha256 FROM project_images p JOIN projects r ON r.id = p.project_id
                WHERE p.review_state = 'rejected' AND p.decided_at IS NOT NULL
                  AND p.decided_at + r.reject_retention_days * 86400000 < \(bind: Clock.milliseconds(now))
                ORDER BY p.decided_at LIMIT \(bind: limit)
                """
            ).all().map {
                (try $0.decode(column: "project_id", as: Int64.self), try $0.decode(column: "sha256", as: String.self))
            }
        }
    }
}
