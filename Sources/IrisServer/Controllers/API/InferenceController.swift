import Foundation
import HTTPTypes
import Hummingbird
import IrisCore
import IrisServices
import NIOCore

/// `/v2`: the Open Inference Protocol v2 (KServe, NVIDIA Triton) over Iris's models, so a
/// `tritonclient` or KServe client calls them as it calls any model server (docs/OIP.md).
/// Errors are the protocol's `{"error": "..."}` (ProblemMiddleware answers so under `/v2`).
struct InferenceController {
    let server: ModelServer
    let guardian: AccessGuard
    /// Largest request body read: the upload limit, but at most 128 MB (a batch of 32 photos,
    /// or 32 FP32 tensors of 224 × 224 in JSON, is well under it), since a body is held in memory.
    let maxBody: Int

    static let version = "0.1.0"

    func addRoutes(to root: Routes<Router<IrisRequestContext>>) {
        root.get("v2", .open, use: serverMetadata)
        root.get("v2/health/live", .open, use: live)
        root.get("v2/health/ready", .open, use: ready)
        root.get("v2/models/{name}", .signedIn, use: modelMetadata)
        root.get("v2/models/{name}/ready", .signedIn, use: modelReady)
        root.post("v2/models/{name}/infer", .signedIn, use: infer)
    }

    struct ServerMetadata: ResponseEncodable {
        var name: String
        var version: String
        var extensions: [String]
    }

    @Sendable func serverMetadata(_ request: Request, context: IrisRequestContext) async throws -> ServerMetadata {
        ServerMetadata(name: "iris", version: Self.version, extensions: ["binary_tensor_data", "classification"])
    }

    @Sendable func live(_ request: Request, context: IrisRequestContext) async throws -> Response {
        Response(status: .ok)
    }

    /// Ready once the server answers: models load on first use, each model says its own readiness.
    @Sendable func ready(_ request: Request, context: IrisRequestContext) async throws -> Response {
        Response(status: .ok)
    }

    struct ModelMetadata: ResponseEncodable {
        var name: String
        var versions: [String]
        var platform: String
        var inputs: [ModelServer.TensorMetadata]
        var outputs: [ModelServer.TensorMetadata]
        var parameters: Parameters

        struct Parameters: Encodable, Sendable {
            var maxBatch: Int
            enum CodingKeys: String, CodingKey { case maxBatch = "max_batch" }
        }
    }

    @Sendable func modelMetadata(_ request: Request, context: IrisRequestContext) async throws -> ModelMetadata {
        let (served, name) = try await resolve(context)
        let metadata = try await server.metadata(served, name: name)
        return ModelMetadata(
            name: metadata.name, versions: metadata.versions, platform: metadata.platform, inputs: metadata.inputs,
            outputs: metadata.outputs, parameters: .init(maxBatch: metadata.maxBatch))
    }

    @Sendable func modelReady(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let (served, name) = try await resolve(context)
        _ = try await server.metadata(served, name: name)
        return Response(status: .ok)
    }

    @Sendable func infer(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let (served, name) = try await resolve(context)
        // tritonclient compresses only when asked (request_compression_algorithm); Iris reads plain bodies.
        if let encoding = request.headers[.contentEncoding], encoding.lowercased() != "identity" {
            throw Problem.unsupportedMediaType(
                "Content-Encoding \(encoding.prefix(20)) is not read here; send the body uncompressed",
                field: "Content-Encoding")
        }
        let body = try await request.body.collect(upTo: maxBody)
        let parsed = try InferenceWire.request(
            Array(buffer: body), headerLength: request.headers[Self.headerLength])
        let outputs = try await server.infer(served, name: name, request: parsed)
        let (bytes, headerLength) = InferenceWire.response(model: name, id: parsed.id, outputs: outputs)
        var headers: HTTPFields = [
            .contentType: headerLength == nil ? "application/json" : "application/octet-stream",
            .contentLength: String(bytes.count),
        ]
        if let headerLength { headers[Self.headerLength] = String(headerLength) }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static let headerLength = HTTPField.Name("Inference-Header-Content-Length")!

    /// The model the path names, after the caller's access: a project's model needs the viewer
    /// role there (as its learner's classify), and is a 404 to anyone who may not see the project.
    func resolve(_ context: IrisRequestContext) async throws -> (ModelServer.Served, String) {
        let name = try context.parameters.require("name")
        guard let served = server.resolve(name) else {
            throw Problem.notFound(
                "no model is named \(name.prefix(64)); this server has \(server.localModels.joined(separator: ", ")) and project-{id}-learner, project-{id}-head for your projects"
            )
        }
        if let projectID = served.projectID {
            do {
                try await guardian.require(.viewer, inProject: projectID, caller: context.caller)
            } catch let problem as Problem where problem.status == 404 {
                throw Problem.notFound("no model is named \(name)")
            }
        }
        return (served, name)
    }
}
