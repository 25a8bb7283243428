import Foundation
import IrisCore
import IrisStore

/// `image.repair`: runs one queued repair and stores its result in the project.
public struct RepairJob: JobHandler {
    public init(repairs: RepairService) {
        self.repairs = repairs
    }

    public static let kind = "image.repair"

    public struct Payload: Codable, Sendable {
        public init(repairId: Int64) { self.repairId = repairId }
        public var repairId: Int64
        public enum CodingKeys: String, CodingKey { case repairId = "repair_id" }
    }

    public struct Output: Encodable, Sendable {
        public var repairId: Int64
        public var resultSHA256: String?
        public var seconds: Double?
        public enum CodingKeys: String, CodingKey {
            case repairId = "repair_id"
            case resultSHA256 = "result_sha256"
            case seconds
        }
    }

    public let repairs: RepairService

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard let repair = try await repairs.store.repairs.find(id: payload.repairId) else {
            throw PermanentJobFailure("repair \(payload.repairId) no longer exists")
        }
        if repair.state == .succeeded {
            return Output(repairId: repair.id, resultSHA256: repair.resultSHA256, seconds: nil)
        }
        context.report(progress: 0.02, message: "starting")
        do {
            let done = try await repairs.run(repair, context: context)
            let timings = RepairService.Timings.of(done)
            await repairs.announce(
                .repairSucceeded, done,
                detail: [
                    "source": done.sourceSHA256, "result": done.resultSHA256 ?? "",
                    "seconds": String(format: "%.2f", timings?.seconds ?? 0),
                ])
            return Output(repairId: done.id, resultSHA256: done.resultSHA256, seconds: timings?.seconds)
        } catch is CancellationError {
            try? await repairs.store.repairs.finish(
                id: repair.id, state: .failed, result: nil, error: "cancelled", timings: nil)
            await repairs.announce(
                .repairFailed, repair, detail: ["source": repair.sourceSHA256, "error": "cancelled"])
            throw CancellationError()
        } catch {
            // A refusal is the user's to read; anything else is said plainly, without server paths.
            let message =
                (error as? Refusal)?.detail ?? (error as? PermanentJobFailure)?.message
                ?? "the repair failed on the server"
            let last =
                context.job.attempts >= context.job.maxAttempts || error is Refusal || error is PermanentJobFailure
            if last {
                try? await repairs.store.repairs.finish(
                    id: repair.id, state: .failed, result: nil, error: message, timings: nil)
                await repairs.announce(
                    .repairFailed, repair, detail: ["source": repair.sourceSHA256, "error": message])
            }
            if error is Refusal { throw PermanentJobFailure(message) }
            throw error
        }
    }
}
