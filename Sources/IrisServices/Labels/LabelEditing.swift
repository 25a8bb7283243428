public import Foundation
public import IrisCore
public import IrisStore
public import Logging

/// Correcting labels: one photo's human labels replaced (from the version the editor saw),
/// many photos' labels added to or taken away in one change, and any change undone. Every
/// label is checked against the project's label set before anything is written; the store
/// writes each change, its record and its `label.changed` events in one transaction.
public struct LabelEditing: Sendable {
    public let store: IrisStore
    /// The learner follows every correction (`LearningService.follow`).
    public let learning: LearningService
    let logger: Logger

    public init(store: IrisStore, learning: LearningService, logger: Logger = Logger(label: "iris.labels")) {
        (self.store, self.learning, self.logger) = (store, learning, logger)
    }

    /// The most labels one change may add or remove.
    public static let maxNames = 50

    /// Replaces the photo's human labels; `ifVersion` (from `If-Match`) refuses a stale edit.
    public func set(_ names: [String], on sha256: String, in project: Project, ifVersion: Int64?, by caller: Caller)
        async throws -> (member: LabelledMember, outcome: LabelOutcome)
    {
        let labels = try checked(names, field: "labels", in: project)
        let result = try await store.labels.set(
            labels, on: sha256, in: project.id, ifVersion: ifVersion, recording: Self.event(caller))
        await teach(result.outcome.sha256s, projectID: project.id)
        return result
    }

    /// Adds `add` to and removes `remove` from every selected photo.
    public func change(
        _ selection: LabelSelection, in project: Project, add: [String], remove: [String], by caller: Caller
    ) async throws -> LabelOutcome {
        let adding = try checked(add, field: "add", in: project)
        // A label no longer in the label set may still be taken away.
        let removing = try remove.map { try NameRules.validated($0, field: "remove", maxLength: NameRules.maxLabel) }
        guard !adding.isEmpty || !removing.isEmpty else {
            throw Refusal.invalid("name at least one label to add or remove", field: "add")
        }
        if let both = adding.first(where: removing.contains) {
            throw Refusal.invalid("label \"\(both)\" cannot be both added and removed", field: "remove")
        }
        if case .images(let sha256s) = selection {
            guard (1...SQLLabelRepository.maxImages).contains(sha256s.count) else {
                throw Refusal.invalid(
                    "images must list from 1 to \(SQLLabelRepository.maxImages) photos, not \(sha256s.count)",
                    field: "images")
            }
        }
        let outcome = try await store.labels.change(
            selection, in: project.id, add: adding, remove: removing, recording: Self.event(caller))
        await teach(outcome.sha256s, projectID: project.id)
        return outcome
    }

    /// Renames a label: every photo labelled `from` is relabelled `to` in one change (evented,
    /// undoable with `undo`), and the label set, when the project has one, names `to` where it
    /// named `from`. Renaming onto a label that exists merges the two.
    public func rename(_ from: String, to: String, in project: Project, by caller: Caller) async throws -> (
        project: Project, outcome: LabelOutcome
    ) {
        let old = try NameRules.validated(from, field: "from", maxLength: NameRules.maxLabel)
        let new = try NameRules.validated(to, field: "to", maxLength: NameRules.maxLabel)
        if let set = project.labelSet, !set.contains(old) {
            throw Refusal.invalid("\"\(old)\" is not a label of this project", field: "from")
        }
        // A label renamed to itself: nothing to change.
        guard old != new else { return (project, LabelOutcome(operation: nil, changed: 0)) }
        var renamed = project
        if let set = project.labelSet {
            var names = set.map { $0 == old ? new : $0 }
            names = names.enumerated().filter { names.firstIndex(of: $0.element) == $0.offset }.map(\.element)
            renamed = try await store.projects.update(id: project.id, ProjectPatch(labelSet: .some(names)))
        }
        let used = try await store.labels.counts(projectID: project.id)[old] ?? 0
        guard used > 0 else { return (renamed, LabelOutcome(operation: nil, changed: 0)) }
        let outcome = try await store.labels.change(
            .filter(LabelFilter(label: old)), in: project.id, add: [new], remove: [old], recording: Self.event(caller))
        await teach(outcome.sha256s, projectID: project.id)
        return (renamed, outcome)
    }

    /// Reverses a change, if none of its photos' labels changed since.
    public func undo(_ operation: Int64, in project: Project, by caller: Caller) async throws -> LabelOutcome {
        let outcome = try await store.labels.undo(operation, in: project.id, recording: Self.event(caller))
        await teach(outcome.sha256s, projectID: project.id)
        return outcome
    }

    /// The learner follows the change at once. The change itself is committed: a failure here
    /// is logged, and the photos' next analysis or the next consolidation catches up.
    func teach(_ sha256s: [String], projectID: Int64) async {
        do {
            try await learning.follow(labelsOf: sha256s, projectID: projectID)
        } catch {
            logger.error(
                "the learner could not follow a label change",
                metadata: ["project": .stringConvertible(projectID), "error": .string("\(error)")])
        }
    }

    /// Names checked as labels of this project: valid, in its label set, each once.
    func checked(_ names: [String], field: String, in project: Project) throws -> [String] {
        guard names.count <= Self.maxNames else {
            throw Refusal.invalid("\(field) may name at most \(Self.maxNames) labels, not \(names.count)", field: field)
        }
        do {
            return try ImageLibrary.humanLabels(names, for: project).map(\.name)
        } catch let refusal as Refusal {
            throw Refusal.invalid(refusal.detail, field: field)
        }
    }

    /// The log's template of the `label.changed` events a change by `caller` writes.
    static func event(_ caller: Caller) -> Event { AuditLog.template(as: .caller(caller), .labelChanged) }
}
