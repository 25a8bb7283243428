import Foundation
public import IrisCore
import SQLKit

/// Repairs, per project: the requests and their outcomes.
public protocol RepairRepository: Sendable {
    func add(_ repair: RepairRecord) async throws -> RepairRecord
    func find(id: Int64) async throws -> RepairRecord?
    /// Newest first, before `id` when given (the next page).
    func list(projectID: Int64, before id: Int64?, limit: Int) async throws -> [RepairRecord]
    /// The repairs whose result is this image.
    func producing(sha256: String) async throws -> [RepairRecord]
    func setJob(id: Int64, jobID: Int64) async throws
    func setState(id: Int64, _ state: RepairRecord.State) async throws
    /// The outcome: the result image (or the error), the timings and when.
    func finish(id: Int64, state: RepairRecord.State, result: String?, error: String?, timings: String?) async throws
    func discard(id: Int64) async throws
    /// Masks no repair refers to any more (for the orphan sweep).
    func maskInUse(_ sha256: String) async throws -> Bool
    /// Every mask some repair refers to (for `iris storage verify`).
    func allMasks() async throws -> Set<String>
}

public struct SQLRepairRepository: RepairRepository {
    let database: IrisDatabase

    public init(database: IrisDatabase) { self.database = database }

    static let columns =
        "id, project_id, source_sha256, mask_sha256, result_sha256, method, domain, seed, state, job_id, requested_by, error, timings, discarded, created_at, finished_at"

    public func add(_ repair: RepairRecord) async throws -> RepairRecord {
        try await database.withConnection { db in
            let row = try await db.raw(
                """
                INSERT INTO repairs (project_id, source_sha256, mask_sha256, method, domain, seed, state, requested_by, created_at)
                VALUES (\(bind: repair.projectID), \(bind: repair.sourceSHA256), \(bind: repair.maskSHA256), \(bind: repair.method),
                        \(bind: repair.domain ? Int64(1) : 0), \(bind: Int64(bitPattern: repair.seed)), \(bind: repair.state.rawValue),
                        \(bind: repair.requestedBy), \(bind: Clock.milliseconds(repair.createdAt)))
                RETURNING \(unsafeRaw: Self.columns)
                """
            ).first()
            return try Self.repair(try row.unwrapped())
        }
    }

    public func find(id: Int64) async throws -> RepairRecord? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM repairs WHERE id = \(bind: id)").first().map(
                Self.repair)
        }
    }

    public func list(projectID: Int64, before id: Int64?, limit: Int) async throws -> [RepairRecord] {
        try await database.withConnection { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM repairs WHERE project_id = \(bind: projectID) AND id < \(bind: id ?? Int64.max)
                ORDER BY id DESC LIMIT \(bind: Int64(limit))
                """
            ).all().map(Self.repair)
        }
    }

    public func producing(sha256: String) async throws -> [RepairRecord] {
        try await database.withConnection { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM repairs WHERE result_sha256 = \(bind: sha256) ORDER BY id"
            ).all().map(Self.repair)
        }
    }

    public func setJob(id: Int64, jobID: Int64) async throws {
        try await database.withConnection { db in
            try await db.raw("UPDATE repairs SET job_id = \(bind: jobID) WHERE id = \(bind: id)").run()
        }
    }

    public func setState(id: Int64, _ state: RepairRecord.State) async throws {
        try await database.withConnection { db in
            try await db.raw("UPDATE repairs SET state = \(bind: state.rawValue) WHERE id = \(bind: id)").run()
        }
    }

    public func finish(id: Int64, state: RepairRecord.State, result: String?, error: String?, timings: String?)
        async throws
    {
        try await database.withConnection { db in
            try await db.raw(
                """
                UPDATE repairs SET state = \(bind: state.rawValue), result_sha256 = \(bind: result), error = \(bind: error),
                    timings = \(bind: timings), finished_at = \(bind: Clock.nowMilliseconds())
                WHERE id = \(bind: id)
                """
            ).run()
        }
    }

    public func discard(id: Int64) async throws {
        try await database.withConnection { db in
            try await db.raw("UPDATE repairs SET discarded = 1 WHERE id = \(bind: id)").run()
        }
    }

    public func maskInUse(_ sha256: String) async throws -> Bool {
        try await database.withConnection { db in
            try await db.raw("SELECT 1 AS found FROM repairs WHERE mask_sha256 = \(bind: sha256) LIMIT 1").first()
                != nil
        }
    }

    public func allMasks() async throws -> Set<String> {
        try await database.withConnection { db in
            Set(
                try await db.raw("SELECT DISTINCT mask_sha256 FROM repairs").all().map {
                    try $0.decode(column: "mask_sha256", as: String.self)
                })
        }
    }

    static func repair(_ row: any SQLRow) throws -> RepairRecord {
        RepairRecord(
            id: try row.decode(column: "id", as: Int64.self),
            projectID: try row.decode(column: "project_id", as: Int64.self),
            sourceSHA256: try row.decode(column: "source_sha256", as: String.self),
            maskSHA256: try row.decode(column: "mask_sha256", as: String.self),
            resultSHA256: try row.decode(column: "result_sha256", as: String?.self),
            method: try row.decode(column: "method", as: String.self),
            domain: try row.decode(column: "domain", as: Int64.self) != 0,
            seed: UInt64(bitPattern: try row.decode(column: "seed", as: Int64.self)),
            state: RepairRecord.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .failed,
            jobID: try row.decode(column: "job_id", as: Int64?.self),
            requestedBy: try row.decode(column: "requested_by", as: String.self),
            error: try row.decode(column: "error", as: String?.self),
            timings: try row.decode(column: "timings", as: String?.self),
            discarded: try row.decode(column: "discarded", as: Int64.self) != 0,
            createdAt: Clock.date(milliseconds: try row.decode(column: "created_at", as: Int64.self)),
            finishedAt: try row.decode(column: "finished_at", as: Int64?.self).map(Clock.date(milliseconds:)))
    }
}
