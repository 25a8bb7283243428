import Foundation
public import IrisCore
import SQLKit

/// What one change to a learner writes: the learner row, the classes it touched, the
/// classes it removed and the members it added. Classes not named are left as they are,
/// which is what keeps adding one example O(1) in the number of classes.
public struct LearnerChange: Sendable {
    public var learner: LearnerRecord
    public var upserted: [LearnerClassRecord] = []
    public var removed: [String] = []
    public var members: [(name: String, sha256: String)] = []
    /// Members that leave their class (their label was corrected away).
    public var leaving: [(name: String, sha256: String)] = []
    /// Replace every class and member (consolidation).
    public var replaceAll = false

    public init(learner: LearnerRecord) { self.learner = learner }
}

/// The condition that a label `l` is on an accepted photo: pending and rejected photos (review)
/// teach nothing: no learner class, head or evaluation reads their labels.
let onAcceptedPhoto =
    "EXISTS (SELECT 1 FROM project_images pa WHERE pa.project_id = l.project_id AND pa.sha256 = l.sha256 AND pa.review_state = 'accepted')"

/// Learners, trained classifiers and evaluation runs, per project.
public protocol LearningRepository: Sendable {
    func learner(projectID: Int64) async throws -> LearnerRecord?
    /// The named classes, or all when `names` is nil.
    func classes(projectID: Int64, names: [String]?) async throws -> [LearnerClassRecord]
    /// Reads the learner and the named classes (all when nil) and writes what `change`
    /// answers, in one transaction that holds the learner against concurrent changes.
    /// `change` answers nil to write nothing.
    func update<T: Sendable>(
        projectID: Int64, names: [String]?,
        _ change: @escaping @Sendable (LearnerRecord?, [LearnerClassRecord]) throws -> (LearnerChange?, T)
    ) async throws -> T
    /// Up to `perClass` member images of each class, newest first.
    func examples(projectID: Int64, perClass: Int) async throws -> [String: [String]]
    /// Every member (class, image) of the learner.
    func members(projectID: Int64) async throws -> [(name: String, sha256: String)]
    /// Removes the learner, its classes and members; the images stay.
    @discardableResult func reset(projectID: Int64) async throws -> Bool
    /// The owner's factor on the learner's measured threshold (nil: none set, 1).
    func thresholdScale(projectID: Int64) async throws -> Double?
    /// Sets the factor (nil: back to 1).
    func setThresholdScale(projectID: Int64, _ scale: Double?) async throws
    /// The embedding model chosen for the project's learner and heads (nil: none chosen).
    func chosenModel(projectID: Int64) async throws -> String?
    /// Chooses the model, or goes back to the setting's (nil).
    func setChosenModel(projectID: Int64, _ model: String?) async throws
    /// (project, class, learner's model) triples an image should join: its human labels that
    /// name a class of a learner, where it is not yet a member.
    func pendingMemberships(sha256: String) async throws -> [(projectID: Int64, name: String, model: String)]
    /// Of these photos, the (class, photo) pairs whose human labels name a learner class the
    /// photo is not a member of (`joining`), and the memberships whose label the photo no
    /// longer has (`leaving`).
    func labelDrift(projectID: Int64, sha256s: [String]) async throws -> (
        joining: [(name: String, sha256: String)], leaving: [(name: String, sha256: String)]
    )
    /// The project's human-labelled images that have no embedding from `model`.
    func labelledWithoutEmbedding(projectID: Int64, model: String) async throws -> [String]
    /// Projects whose learner changed since its last consolidation.
    func unconsolidated() async throws -> [Int64]
    /// Projects whose learner's classes are over another model than the one the project uses
    /// now (its choice, or `defaultModel` when it chose none): they are rebuilt over it.
    func overOtherModel(defaultModel: String) async throws -> [Int64]
    /// The project's images with this human label.
    func labelledSHA256s(projectID: Int64, label: String) async throws -> [String]
    /// Every image of the project with an embedding from `model`.
    func embeddings(projectID: Int64, model: String) async throws -> [(sha256: String, vector: [Float])]
    /// The project's human-labelled images that have an embedding from `model`.
    func labelledEmbeddings(projectID: Int64, model: String) async throws -> [(
        sha256: String, label: String, vector: [Float]
    )]

    /// Stores a new version (numbered after the last) and answers it.
    func addClassifier(_ classifier: ClassifierRecord) async throws -> ClassifierRecord
    func classifiers(projectID: Int64) async throws -> [ClassifierRecord]
    func classifier(projectID: Int64, version: Int) async throws -> ClassifierRecord?
    /// Makes one version the project's active one; false when there is no such version.
    func activate(projectID: Int64, version: Int) async throws -> Bool

    func addEvaluation(_ evaluation: EvaluationRecord) async throws -> EvaluationRecord
    func evaluations(projectID: Int64, limit: Int) async throws -> [EvaluationRecord]
    func evaluation(projectID: Int64, id: Int64) async throws -> EvaluationRecord?
}

public struct SQLLearningRepository: LearningRepository {
    let database: IrisDatabase

    public init(database: IrisDatabase) { self.database = database }

    // MARK: - Learner

    public func learner(projectID: Int64) async throws -> LearnerRecord? {
        try await database.withConnection { db in try await Self.learner(db, projectID) }
    }

    public func classes(projectID: Int64, names: [String]?) async throws -> [LearnerClassRecord] {
        try await database.withConnection { db in try await Self.classes(db, projectID, names) }
    }

    public func update<T: Sendable>(
        projectID: Int64, names: [String]?,
        _ change: @escaping @Sendable (LearnerRecord?, [LearnerClassRecord]) throws -> (LearnerChange?, T)
    ) async throws -> T {
        let dialect = database.dialect
        return try await database.transaction { db in
            // Hold the project row: concurrent changes to one learner take turns (SQLite writes are serial anyway).
            if dialect == .postgres {
                try await db.raw("SELECT id FROM projects WHERE id = \(bind: projectID) FOR UPDATE").run()
            }
            let current = try await Self.learner(db, projectID)
            let classes = current == nil ? [] : try await Self.classes(db, projectID, names)
            let (write, answer) = try change(current, classes)
            guard let write else { return answer }
            let learner = write.learner
            let now = Clock.milliseconds(learner.updatedAt)
            try await db.raw(
                """
                INSERT INTO learners (project_id, model, dimension, count, class_count, global_sum, updated_at, consolidated_at)
                VALUES (\(bind: projectID), \(bind: learner.model), \(bind: Int64(learner.dimension)), \(bind: Int64(learner.count)),
                        \(bind: Int64(learner.classCount)), \(bind: DoubleVector.encode(learner.globalSum)), \(bind: now),
                        \(bind: learner.consolidatedAt.map(Clock.milliseconds)))
                ON CONFLICT (project_id) DO UPDATE SET model = excluded.model, dimension = excluded.dimension, count = excluded.count,
                    class_count = excluded.class_count, global_sum = excluded.global_sum, updated_at = excluded.updated_at,
                    consolidated_at = excluded.consolidated_at
                """
            ).run()
            if write.replaceAll {
                try await db.raw("DELETE FROM learner_classes WHERE project_id = \(bind: projectID)").run()
            }
            for name in write.removed {
                try await db.raw(
                    "DELETE FROM learner_classes WHERE project_id = \(bind: projectID) AND name = \(bind: name)"
                ).run()
            }
            for shell in write.upserted {
                try await db.raw(
                    """
                    INSERT INTO learner_classes (project_id, name, count, feature_sum, noise_mean, noise_m2, created_at, updated_at)
                    VALUES (\(bind: projectID), \(bind: shell.name), \(bind: Int64(shell.count)), \(bind: DoubleVector.encode(shell.sum)),
                            \(bind: shell.noiseMean), \(bind: shell.noiseM2), \(bind: Clock.milliseconds(shell.createdAt)),
                            \(bind: Clock.milliseconds(shell.updatedAt)))
                    ON CONFLICT (project_id, name) DO UPDATE SET count = excluded.count, feature_sum = excluded.feature_sum,
                        noise_mean = excluded.noise_mean, noise_m2 = excluded.noise_m2, updated_at = excluded.updated_at
                    """
                ).run()
            }
            for member in write.leaving {
                try await db.raw(
                    """
                    DELETE FROM learner_members WHERE project_id = \(bind: projectID) AND name = \(bind: member.name)
                    AND sha256 = \(bind: member.sha256)
                    """
                ).run()
            }
            for member in write.members {
                try await db.raw(
                    """
                    INSERT INTO learner_members (project_id, name, sha256, added_at)
                    VALUES (\(bind: projectID), \(bind: member.name), \(bind: member.sha256), \(bind: now))
                    ON CONFLICT (project_id, name, sha256) DO NOTHING
                    """
                ).run()
            }
            return answer
        }
    }

    public func examples(projectID: Int64, perClass: Int) async throws -> [String: [String]] {
        try await database.withConnection { db in
            var result: [String: [String]] = [:]
            let rows = try await db.raw(
                """
                SELECT name, sha256 FROM learner_members WHERE project_id = \(bind: projectID) ORDER BY name, added_at DESC, sha256
                """
            ).all()
            for row in rows {
                let name = try row.decode(column: "name", as: String.self)
                if result[name, default: []].count < perClass {
                    result[name, default: []].append(try row.decode(column: "sha256", as: String.self))
                }
            }
            return result
        }
    }

    public func members(projectID: Int64) async throws -> [(name: String, sha256: String)] {
        try await database.withConnection { db in
            try await db.raw(
                "SELECT name, sha256 FROM learner_members WHERE project_id = \(bind: projectID) ORDER BY name, sha256"
            ).all().map {
                (try $0.decode(column: "name", as: String.self), try $0.decode(column: "sha256", as: String.self))
            }
        }
    }

    public func reset(projectID: Int64) async throws -> Bool {
        try await database.transaction { db in
            // learner_members go with their classes, the classes with the learner.
            try await db.raw("DELETE FROM learner_members WHERE project_id = \(bind: projectID)").run()
            try await db.raw("DELETE FROM learner_classes WHERE project_id = \(bind: projectID)").run()
            return try await db.raw("DELETE FROM learners WHERE project_id = \(bind: projectID) RETURNING project_id")
                .first() != nil
        }
    }

    public func thresholdScale(projectID: Int64) async throws -> Double? {
        try await database.withConnection { db in
            try await db.raw("SELECT threshold_scale FROM learner_settings WHERE project_id = \(bind: projectID)")
                .first()?.decode(column: "threshold_scale", as: Double.self)
        }
    }

    public func setThresholdScale(projectID: Int64, _ scale: Double?) async throws {
        try await database.withConnection { db in
            try await db.raw(
                """
                INSERT INTO learner_settings (project_id, threshold_scale, updated_at) VALUES (\(bind: projectID), \(bind: scale ?? 1), \(bind: Clock.nowMilliseconds()))
                ON CONFLICT (project_id) DO UPDATE SET threshold_scale = excluded.threshold_scale, updated_at = excluded.updated_at
                """
            ).run()
        }
    }

    public func chosenModel(projectID: Int64) async throws -> String? {
        try await database.withConnection { db in
            try await db.raw("SELECT model FROM learner_settings WHERE project_id = \(bind: projectID)")
                .first()?.decode(column: "model", as: String?.self) ?? nil
        }
    }

    public func setChosenModel(projectID: Int64, _ model: String?) async throws {
        try await database.withConnection { db in
            try await db.raw(
                """
                INSERT INTO learner_settings (project_id, threshold_scale, model, updated_at) VALUES (\(bind: projectID), 1, \(bind: model), \(bind: Clock.nowMilliseconds()))
                ON CONFLICT (project_id) DO UPDATE SET model = excluded.model, updated_at = excluded.updated_at
                """
            ).run()
        }
    }

    public func pendingMemberships(sha256: String) async throws -> [(projectID: Int64, name: String, model: String)] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT l.project_id AS project_id, l.name AS name, r.model AS model FROM labels l
                JOIN learners r ON r.project_id = l.project_id
                JOIN learner_classes c ON c.project_id = l.project_id AND c.name = l.name
                WHERE l.sha256 = \(bind: sha256) AND l.source = \(bind: Label.humanSource) AND \(unsafeRaw: onAcceptedPhoto)
                  AND NOT EXISTS (SELECT 1 FROM learner_members m WHERE m.project_id = l.project_id AND m.name = l.name AND m.sha256 = l.sha256)
                ORDER BY l.project_id, l.name
                """
            ).all().map {
                (
                    try $0.decode(column: "project_id", as: Int64.self), try $0.decode(column: "name", as: String.self),
                    try $0.decode(column: "model", as: String.self)
                )
            }
        }
    }

    public func labelDrift(projectID: Int64, sha256s: [String]) async throws -> (
        joining: [(name: String, sha256: String)], leaving: [(name: String, sha256: String)]
    ) {
        try await database.withConnection { db in
            var joining: [(name: String, sha256: String)] = []
            var leaving: [(name: String, sha256: String)] = []
            for chunk in sha256s.chunked(500) {
                for row in try await db.raw(
                    """
                    SELECT l.name, l.sha256 FROM labels l
                    JOIN learner_classes c ON c.project_id = l.project_id AND c.name = l.name
                    WHERE l.project_id = \(bind: projectID) AND l.source = \(bind: Label.humanSource) AND l.sha256 IN (\(binds: chunk))
                      AND \(unsafeRaw: onAcceptedPhoto) AND NOT EXISTS (SELECT 1 FROM learner_members m WHERE m.project_id = l.project_id AND m.name = l.name AND m.sha256 = l.sha256)
                    ORDER BY l.name, l.sha256
                    """
                ).all() {
                    joining.append(
                        (
                            try row.decode(column: "name", as: String.self),
                            try row.decode(column: "sha256", as: String.self)
                        ))
                }
                for row in try await db.raw(
                    """
                    SELECT m.name, m.sha256 FROM learner_members m
                    WHERE m.project_id = \(bind: projectID) AND m.sha256 IN (\(binds: chunk))
                      AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.project_id = m.project_id AND l.sha256 = m.sha256
                      AND l.name = m.name AND l.source = \(bind: Label.humanSource) AND \(unsafeRaw: onAcceptedPhoto))
                    ORDER BY m.name, m.sha256
                    """
                ).all() {
                    leaving.append(
                        (
                            try row.decode(column: "name", as: String.self),
                            try row.decode(column: "sha256", as: String.self)
                        ))
                }
            }
            return (joining, leaving)
        }
    }

    public func labelledWithoutEmbedding(projectID: Int64, model: String) async throws -> [String] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT DISTINCT l.sha256 AS sha256 FROM labels l
                WHERE l.project_id = \(bind: projectID) AND l.source = \(bind: Label.humanSource) AND \(unsafeRaw: onAcceptedPhoto)
                  AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.sha256 = l.sha256 AND e.model = \(bind: model))
                ORDER BY l.sha256
                """
            ).all().map { try $0.decode(column: "sha256", as: String.self) }
        }
    }

    public func overOtherModel(defaultModel: String) async throws -> [Int64] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT l.project_id FROM learners l LEFT JOIN learner_settings s ON s.project_id = l.project_id
                WHERE l.model <> COALESCE(s.model, \(bind: defaultModel)) ORDER BY l.project_id
                """
            )
            .all().map { try $0.decode(column: "project_id", as: Int64.self) }
        }
    }

    public func unconsolidated() async throws -> [Int64] {
        try await database.withConnection { db in
            try await db.raw(
                "SELECT project_id FROM learners WHERE consolidated_at IS NULL OR consolidated_at < updated_at ORDER BY project_id"
            )
            .all().map { try $0.decode(column: "project_id", as: Int64.self) }
        }
    }

    public func labelledSHA256s(projectID: Int64, label: String) async throws -> [String] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT l.sha256 FROM labels l WHERE l.project_id = \(bind: projectID) AND l.name = \(bind: label)
                AND l.source = \(bind: Label.humanSource) AND \(unsafeRaw: onAcceptedPhoto)
                ORDER BY l.sha256
                """
            ).all().map { try $0.decode(column: "sha256", as: String.self) }
        }
    }

    public func embeddings(projectID: Int64, model: String) async throws -> [(sha256: String, vector: [Float])] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT e.sha256 AS sha256, e.vector AS vector FROM project_images p
                JOIN embeddings e ON e.sha256 = p.sha256 AND e.model = \(bind: model)
                WHERE p.project_id = \(bind: projectID) ORDER BY p.id
                """
            ).all().compactMap { row in
                guard let vector = Embedding.decode(try row.decode(column: "vector", as: String.self)) else {
                    return nil
                }
                return (try row.decode(column: "sha256", as: String.self), vector)
            }
        }
    }

    public func labelledEmbeddings(projectID: Int64, model: String) async throws -> [(
        sha256: String, label: String, vector: [Float]
    )] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT l.sha256 AS sha256, l.name AS name, e.vector AS vector FROM labels l
                JOIN embeddings e ON e.sha256 = l.sha256 AND e.model = \(bind: model)
                WHERE l.project_id = \(bind: projectID) AND l.source = \(bind: Label.humanSource) AND \(unsafeRaw: onAcceptedPhoto)
                ORDER BY l.name, l.sha256
                """
            ).all().compactMap { row in
                guard let vector = Embedding.decode(try row.decode(column: "vector", as: String.self)) else {
                    return nil
                }
                return (
                    try row.decode(column: "sha256", as: String.self), try row.decode(column: "name", as: String.self),
                    vector
                )
            }
        }
    }

    static func learner(_ db: any SQLDatabase, _ projectID: Int64) async throws -> LearnerRecord? {
        guard
            let row = try await db.raw(
                """
                SELECT model, dimension, count, class_count, global_sum, updated_at, consolidated_at FROM learners WHERE project_id = \(bind: projectID)
                """
            ).first()
        else { return nil }
        return LearnerRecord(
            projectID: projectID, model: try row.decode(column: "model", as: String.self),
            dimension: Int(try row.decode(column: "dimension", as: Int64.self)),
            count: Int(try row.decode(column: "count", as: Int64.self)),
            classCount: Int(try row.decode(column: "class_count", as: Int64.self)),
            globalSum: DoubleVector.decode(try row.decode(column: "global_sum", as: String.self)) ?? [],
            updatedAt: Clock.date(milliseconds: try row.decode(column: "updated_at", as: Int64.self)),
            consolidatedAt: try row.decode(column: "consolidated_at", as: Int64?.self).map(Clock.date(milliseconds:)))
    }

    static func classes(_ db: any SQLDatabase, _ projectID: Int64, _ names: [String]?) async throws
        -> [LearnerClassRecord]
    {
        if let names, names.isEmpty { return [] }
        let filter: SQLQueryString = names.map { "AND name IN (\(binds: $0))" } ?? ""
        return try await db.raw(
            """
            SELECT name, count, feature_sum, noise_mean, noise_m2, created_at, updated_at FROM learner_classes
            WHERE project_id = \(bind: projectID) \(filter) ORDER BY name
            """
        ).all().map { row in
            LearnerClassRecord(
                name: try row.decode(column: "name", as: String.self),
                count: Int(try row.decode(column: "count", as: Int64.self)),
                sum: DoubleVector.decode(try row.decode(column: "feature_sum", as: String.self)) ?? [],
                noiseMean: try row.decode(column: "noise_mean", as: Double.self),
                noiseM2: try row.decode(column: "noise_m2", as: Double.self),
                createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)),
                updatedAt: Clock.date(milliseconds: try row.decode(column: "updated_at", as: Int64.self)))
        }
    }

    // MARK: - Classifiers

    static let classifierColumns =
        "id, project_id, version, model, classes, parameters, report, active, job_id, created_at"

    public func addClassifier(_ classifier: ClassifierRecord) async throws -> ClassifierRecord {
        let dialect = database.dialect
        return try await database.transaction { db in
            if dialect == .postgres {
                try await db.raw("SELECT id FROM projects WHERE id = \(bind: classifier.projectID) FOR UPDATE").run()
            }
            let last =
                try await db.raw(
                    "SELECT MAX(version) AS v FROM classifiers WHERE project_id = \(bind: classifier.projectID)"
                ).first()?
                .decode(column: "v", as: Int64?.self) ?? 0
            let classes = String(decoding: try JSONEncoder().encode(classifier.classes), as: UTF8.self)
            let row = try await db.raw(
                """
                INSERT INTO classifiers (project_id, version, model, classes, parameters, report, active, job_id, created_at)
                VALUES (\(bind: classifier.projectID), \(bind: last + 1), \(bind: classifier.model), \(bind: classes),
                        \(bind: classifier.parameters), \(bind: classifier.report), 0, \(bind: classifier.jobID),
                        \(bind: Clock.milliseconds(classifier.createdAt)))
                RETURNING \(unsafeRaw: Self.classifierColumns)
                """
            ).first()
            return try Self.classifier(try row.unwrapped())
        }
    }

    public func classifiers(projectID: Int64) async throws -> [ClassifierRecord] {
        try await database.withConnection { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.classifierColumns) FROM classifiers WHERE project_id = \(bind: projectID) ORDER BY version DESC"
            )
            .all().map(Self.classifier)
        }
    }

    public func classifier(projectID: Int64, version: Int) async throws -> ClassifierRecord? {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.classifierColumns) FROM classifiers WHERE project_id = \(bind: projectID) AND version = \(bind: Int64(version))
                """
            ).first().map(Self.classifier)
        }
    }

    public func activate(projectID: Int64, version: Int) async throws -> Bool {
        try await database.transaction { db in
            guard
                try await db.raw(
                    "SELECT id FROM classifiers WHERE project_id = \(bind: projectID) AND version = \(bind: Int64(version))"
                ).first() != nil
            else { return false }
            try await db.raw("UPDATE classifiers SET active = 0 WHERE project_id = \(bind: projectID)").run()
            try await db.raw(
                "UPDATE classifiers SET active = 1 WHERE project_id = \(bind: projectID) AND version = \(bind: Int64(version))"
            ).run()
            return true
        }
    }

    static func classifier(_ row: any SQLRow) throws -> ClassifierRecord {
        ClassifierRecord(
            id: try row.decode(column: "id", as: Int64.self),
            projectID: try row.decode(column: "project_id", as: Int64.self),
            version: Int(try row.decode(column: "version", as: Int64.self)),
            model: try row.decode(column: "model", as: String.self),
            classes: (try? JSONDecoder().decode(
                [String].self, from: Data(try row.decode(column: "classes", as: String.self).utf8))) ?? [],
            parameters: try row.decode(column: "parameters", as: String.self),
            report: try row.decode(column: "report", as: String.self),
            active: try row.decode(column: "active", as: Int64.self) != 0,
            jobID: try row.decode(column: "job_id", as: Int64?.self),
            createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }

    // MARK: - Evaluations

    static let evaluationColumns = "id, project_id, target, version, split, report, job_id, created_at"

    public func addEvaluation(_ evaluation: EvaluationRecord) async throws -> EvaluationRecord {
        try await database.withConnection { db in
            let row = try await db.raw(
                """
                INSERT INTO evaluations (project_id, target, version, split, report, job_id, created_at)
                VALUES (\(bind: evaluation.projectID), \(bind: evaluation.target), \(bind: evaluation.version.map(Int64.init)),
                        \(bind: evaluation.split), \(bind: evaluation.report), \(bind: evaluation.jobID), \(bind: Clock.milliseconds(evaluation.createdAt)))
                RETURNING \(unsafeRaw: Self.evaluationColumns)
                """
            ).first()
            return try Self.evaluation(try row.unwrapped())
        }
    }

    public func evaluations(projectID: Int64, limit: Int) async throws -> [EvaluationRecord] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.evaluationColumns) FROM evaluations WHERE project_id = \(bind: projectID) ORDER BY id DESC LIMIT \(bind: Int64(limit))
                """
            ).all().map(Self.evaluation)
        }
    }

    public func evaluation(projectID: Int64, id: Int64) async throws -> EvaluationRecord? {
        try await database.withConnection { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.evaluationColumns) FROM evaluations WHERE project_id = \(bind: projectID) AND id = \(bind: id)"
            )
            .first().map(Self.evaluation)
        }
    }

    static func evaluation(_ row: any SQLRow) throws -> EvaluationRecord {
        EvaluationRecord(
            id: try row.decode(column: "id", as: Int64.self),
            projectID: try row.decode(column: "project_id", as: Int64.self),
            target: try row.decode(column: "target", as: String.self),
            version: try row.decode(column: "version", as: Int64?.self).map(Int.init),
            split: try row.decode(column: "split", as: String.self),
            report: try row.decode(column: "report", as: String.self),
            jobID: try row.decode(column: "job_id", as: Int64?.self),
            createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }
}

extension Optional where Wrapped == any SQLRow {
    func unwrapped() throws -> any SQLRow {
        guard let self else {
            throw StoreError.inconsistent("an INSERT … RETURNING returned nothing")
        }
        return self
    }
}
