import Foundation
public import IrisCore
import SQLKit

/// Results of models on images.
public protocol AnalysisRepository: Sendable {
    /// Stores (or replaces) one model's result on an image, with its top labels, its
    /// embedding and its moderation score, in one transaction. Answers false when the
    /// image no longer exists (nothing is stored).
    func save(
        _ analysis: Analysis, labels: [(label: String, score: Double)], embedding: [Float]?, moderation: Double?
    ) async throws -> Bool
    func list(sha256: String) async throws -> [Analysis]
    /// Which (image, model) pairs of `sha256s` have a stored result, as "sha256:model".
    func analysed(sha256s: [String]) async throws -> Set<String>
    func embedding(sha256: String, model: String) async throws -> Embedding?
    /// Each image's best model label (rank 0 of the first model, by name), for galleries.
    func topLabels(sha256s: [String]) async throws -> [String: (label: String, score: Double)]
    /// Each image's best label from every model that labelled it: sha256 → model → (label, score).
    func topLabelsByModel(sha256s: [String]) async throws -> [String: [String: (label: String, score: Double)]]
    /// Labels models gave, most frequent first, over the images of a project.
    func labelCounts(projectID: Int64, limit: Int) async throws -> [(label: String, count: Int)]
}

public struct SQLAnalysisRepository: AnalysisRepository {
    let database: IrisDatabase

    public init(database: IrisDatabase) { self.database = database }

    public func save(
        _ analysis: Analysis, labels: [(label: String, score: Double)], embedding: [Float]?, moderation: Double?
    ) async throws -> Bool {
        try await database.transaction { db in
            guard try await db.raw("SELECT sha256 FROM images WHERE sha256 = \(bind: analysis.sha256)").first() != nil
            else { return false }
            let created = Clock.milliseconds(analysis.createdAt)
            try await db.raw(
                "DELETE FROM analyses WHERE sha256 = \(bind: analysis.sha256) AND model = \(bind: analysis.model)"
            ).run()
            try await db.raw(
                """
                INSERT INTO analyses (sha256, model, result, created_at)
                VALUES (\(bind: analysis.sha256), \(bind: analysis.model), \(bind: analysis.result), \(bind: created))
                """
            ).run()
            try await db.raw(
                "DELETE FROM model_labels WHERE sha256 = \(bind: analysis.sha256) AND model = \(bind: analysis.model)"
            ).run()
            for (rank, label) in labels.enumerated() {
                try await db.raw(
                    """
                    INSERT INTO model_labels (sha256, model, rank, label, score)
                    VALUES (\(bind: analysis.sha256), \(bind: analysis.model), \(bind: Int64(rank)), \(bind: label.label), \(bind: label.score))
                    """
                ).run()
            }
            if let embedding {
                let encoded = Embedding(sha256: analysis.sha256, model: analysis.model, vector: embedding).encoded
                try await db.raw(
                    "DELETE FROM embeddings WHERE sha256 = \(bind: analysis.sha256) AND model = \(bind: analysis.model)"
                ).run()
                try await db.raw(
                    """
                    INSERT INTO embeddings (sha256, model, dimension, vector)
                    VALUES (\(bind: analysis.sha256), \(bind: analysis.model), \(bind: Int64(embedding.count)), \(bind: encoded))
                    """
                ).run()
            }
            if let moderation {
                try await db.raw(
                    "UPDATE images SET moderation = \(bind: moderation) WHERE sha256 = \(bind: analysis.sha256)"
                ).run()
            }
            return true
        }
    }

    public func analysed(sha256s: [String]) async throws -> Set<String> {
        guard !sha256s.isEmpty else { return [] }
        return try await database.withConnection { db in
            Set(
                try await db.raw("SELECT sha256, model FROM analyses WHERE sha256 IN (\(binds: sha256s))").all().map {
                    "\(try $0.decode(column: "sha256", as: String.self)):\(try $0.decode(column: "model", as: String.self))"
                })
        }
    }

    public func list(sha256: String) async throws -> [Analysis] {
        try await database.withConnection { db in
            try await db.raw(
                "SELECT sha256, model, result, created_at FROM analyses WHERE sha256 = \(bind: sha256) ORDER BY model"
            ).all().map { row in
                Analysis(
                    sha256: try row.decode(column: "sha256", as: String.self),
                    model: try row.decode(column: "model", as: String.self),
                    result: try row.decode(column: "result", as: String.self),
                    createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)))
            }
        }
    }

    public func embedding(sha256: String, model: String) async throws -> Embedding? {
        try await database.withConnection { db in
            guard
                let row = try await db.raw(
                    "SELECT vector FROM embeddings WHERE sha256 = \(bind: sha256) AND model = \(bind: model)"
                ).first(),
                let vector = Embedding.decode(try row.decode(column: "vector", as: String.self))
            else { return nil }
            return Embedding(sha256: sha256, model: model, vector: vector)
        }
    }

    public func topLabels(sha256s: [String]) async throws -> [String: (label: String, score: Double)] {
        guard !sha256s.isEmpty else { return [:] }
        return try await database.withConnection { db in
            var result: [String: (label: String, score: Double)] = [:]
            let rows = try await db.raw(
                """
                SELECT sha256, label, score FROM model_labels WHERE rank = 0 AND sha256 IN (\(binds: sha256s)) ORDER BY model DESC
                """
            ).all()
            for row in rows {
                result[try row.decode(column: "sha256", as: String.self)] =
                    (try row.decode(column: "label", as: String.self), try row.decode(column: "score", as: Double.self))
            }
            return result
        }
    }

    public func topLabelsByModel(sha256s: [String]) async throws
        -> [String: [String: (label: String, score: Double)]]
    {
        guard !sha256s.isEmpty else { return [:] }
        return try await database.withConnection { db in
            var result: [String: [String: (label: String, score: Double)]] = [:]
            for slice in sha256s.chunked() {
                let rows = try await db.raw(
                    "SELECT sha256, model, label, score FROM model_labels WHERE rank = 0 AND sha256 IN (\(binds: slice))"
                ).all()
                for row in rows {
                    let sha256 = try row.decode(column: "sha256", as: String.self)
                    let model = try row.decode(column: "model", as: String.self)
                    result[sha256, default: [:]][model] = (
                        try row.decode(column: "label", as: String.self),
                        try row.decode(column: "score", as: Double.self)
                    )
                }
            }
            return result
        }
    }

    public func labelCounts(projectID: Int64, limit: Int) async throws -> [(label: String, count: Int)] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT m.label AS label, COUNT(*) AS n FROM model_labels m
                JOIN project_images p ON p.sha256 = m.sha256 AND p.project_id = \(bind: projectID)
                WHERE m.rank = 0
                GROUP BY m.label ORDER BY n DESC, m.label LIMIT \(bind: Int64(limit))
                """
            ).all().map {
                (try $0.decode(column: "label", as: String.self), Int(try $0.decode(column: "n", as: Int64.self)))
            }
        }
    }
}
