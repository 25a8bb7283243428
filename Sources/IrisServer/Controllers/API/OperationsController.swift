import Foundation
import Hummingbird
import IrisBlobs
import IrisCore
import IrisServices
import IrisStore
import NIOCore

/// Liveness, readiness, metrics and the API contract.
struct OperationsController {
    let store: IrisStore
    let scratch: ScratchSpace
    let metrics: IrisMetrics
    let openAPI: Data

    struct Status: ResponseEncodable {
        var status: String
        var checks: [String: String]?
    }

    func addRoutes(to router: Routes<Router<IrisRequestContext>>) {
        router.get("healthz", .open) { _, _ in Status(status: "ok") }
        router.get("readyz", .open, use: ready)
        router.get("metrics", .admin) { _, _ in
            let text = metrics.render()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("api/v1/openapi.yaml", .open) { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(bytes: openAPI)))
        }
    }

    /// Ready when the database answers and the data folder takes writes.
    @Sendable func ready(_ request: Request, context: IrisRequestContext) async throws -> Status {
        let databaseOK = await store.database.ping()
        let probe = scratch.newFileURL(suffix: ".ready")
        let diskOK = FileManager.default.createFile(atPath: probe.path, contents: Data("ok".utf8))
        try? FileManager.default.removeItem(at: probe)
        guard databaseOK, diskOK else {
            throw Problem.unavailable(
                "not ready: database \(databaseOK ? "ok" : "unreachable"), data folder \(diskOK ? "ok" : "not writable")"
            )
        }
        return Status(status: "ready", checks: ["database": "ok", "storage": "ok"])
    }
}
