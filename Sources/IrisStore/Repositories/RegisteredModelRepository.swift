import Foundation
public import IrisCore
import SQLKit

/// Remote models registered over the API.
public protocol RegisteredModelRepository: Sendable {
    func all() async throws -> [RegisteredModel]
    /// Answers false, storing nothing, when the name is taken.
    func add(_ model: RegisteredModel) async throws -> Bool
    /// Answers whether there was such a model.
    func remove(name: String) async throws -> Bool
}

/// `RegisteredModelRepository` in SQL, for SQLite and PostgreSQL alike.
public struct SQLRegisteredModelRepository: RegisteredModelRepository {
    let database: IrisDatabase

    public init(database: IrisDatabase) { self.database = database }

    public func all() async throws -> [RegisteredModel] {
        try await database.withConnection { db in
            try await db.raw("SELECT name, manifest, created_by, created_at FROM registered_models ORDER BY name").all()
                .map { row in
                    RegisteredModel(
                        name: try row.decode(column: "name", as: String.self),
                        manifest: try row.decode(column: "manifest", as: String.self),
                        createdBy: try row.decode(column: "created_by", as: Int64?.self),
                        createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)))
                }
        }
    }

    public func add(_ model: RegisteredModel) async throws -> Bool {
        try await database.transaction { db in
            try await db.raw(
                """
                INSERT INTO registered_models (name, manifest, created_by, created_at)
                VALUES (\(bind: model.name), \(bind: model.manifest), \(bind: model.createdBy), \(bind: Clock.milliseconds(model.createdAt)))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """
            ).first() != nil
        }
    }

    public func remove(name: String) async throws -> Bool {
        try await database.transaction { db in
            try await db.raw("DELETE FROM registered_models WHERE name = \(bind: name) RETURNING name").first() != nil
        }
    }
}
