import Foundation
public import Hummingbird
public import IrisCore
import IrisServices
import Logging
import NIOCore

/// The context every Iris route sees: the caller's identity and the client's address, set by
/// the middleware before any route runs.
public struct IrisRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Who is calling, set by `AuthMiddleware` before any route runs.
    public var caller: Caller = .anonymous
    /// The peer's address (for rate limits per client).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// The client's address as `ClientAddressMiddleware` found it: from `X-Forwarded-For`
    /// when the peer is a trusted proxy, else the peer's own.
    var clientAddress: String?

    /// A stable key for the client: its IP address.
    var clientKey: String { clientAddress ?? remoteAddress?.ipAddress ?? "unknown" }

    /// Uploads are streamed, never collected, so collecting is only for small JSON bodies.
    public var maxUploadSize: Int { 1 << 20 }

    public var requestDecoder: IrisJSONDecoder { IrisJSONDecoder() }
    public var responseEncoder: IrisJSONEncoder { IrisJSONEncoder() }
}

/// JSON as Iris speaks it: snake_case keys, ISO 8601 dates.
public struct IrisJSONEncoder: ResponseEncoder {
    public init() {}

    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response
    {
        let data = try IrisJSON.makeEncoder().encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.contentLength] = String(data.count)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Decodes JSON request bodies and turns decoding failures into 400s naming the field.
public struct IrisJSONDecoder: RequestDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws
        -> T
    {
        try Self.decode(type, from: try await Self.body(of: request, context: context))
    }

    /// The JSON body's bytes: 415 for another content type, 413 when too large.
    static func body(of request: Request, context: some RequestContext) async throws -> Data {
        if let contentType = request.headers[.contentType], !contentType.lowercased().hasPrefix("application/json") {
            throw Problem.unsupportedMediaType(
                "send the body as application/json, not \(contentType)", field: "Content-Type")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: context.maxUploadSize)
        } catch {
            throw Problem.contentTooLarge("JSON bodies are limited to \(context.maxUploadSize) bytes")
        }
        return Data(buffer.readableBytesView)
    }

    /// `convertingKeys` false keeps keys as sent: for bodies that carry free-form JSON objects.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, convertingKeys: Bool = true) throws -> T {
        let decoder = JSONDecoder()
        if convertingKeys { decoder.keyDecodingStrategy = .convertFromSnakeCase }
        decoder.dateDecodingStrategy = .iso8601
        let value: T
        do {
            value = try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw Problem.badRequest(IrisJSON.describe(error), field: IrisJSON.field(error))
        }
        // PostgreSQL cannot store text with NUL in it (see TextInputMiddleware). Only what was
        // decoded is looked at: keys and values the model ignores do no harm.
        if let field = Self.fieldHoldingNUL(in: value) {
            throw TextInputMiddleware.refusal(field.isEmpty ? "the body" : field, field: field.isEmpty ? nil : field)
        }
        return value
    }

    /// The path (snake_case, as the API spells it) of the first decoded string that holds
    /// U+0000, "" for the body itself, or nil when none does.
    static func fieldHoldingNUL(in value: Any, path: [String] = []) -> String? {
        if let string = value as? String {
            return string.contains("\u{0}") ? path.joined(separator: ".") : nil
        }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .collection, .set:
            for (index, child) in mirror.children.enumerated() {
                if let found = fieldHoldingNUL(
                    in: child.value, path: path.dropLast() + [(path.last ?? "") + "[\(index)]"])
                {
                    return found
                }
            }
        case .dictionary:
            for child in mirror.children {
                let pair = Mirror(reflecting: child.value).children.map(\.value)
                guard pair.count == 2 else { continue }
                let key = "\(pair[0])"
                if key.contains("\u{0}") { return path.joined(separator: ".") }
                if let found = fieldHoldingNUL(in: pair[1], path: path + [key]) { return found }
            }
        case .optional:
            return mirror.children.first.flatMap { fieldHoldingNUL(in: $0.value, path: path) }
        case .struct, .class, .enum, .tuple:
            for child in mirror.children {
                let name = child.label.map { IrisJSON.snakeCase($0) }
                if let found = fieldHoldingNUL(in: child.value, path: name.map { path + [$0] } ?? path) { return found }
            }
        default:
            break
        }
        return nil
    }

}
