import Foundation
public import IrisCore
import NIOConcurrencyHelpers

/// The handlers a worker can run, by kind; also the gate every enqueue passes, so an
/// unknown kind or a malformed payload is refused before anything is stored.
///
/// Shared by reference: the composition root makes the queue with it first, then the parts
/// that queue work (the library, repairs), then registers their handlers, all before any
/// worker starts.
public final class JobRegistry: Sendable {
    public struct Runner: Sendable {
        public let validate: @Sendable (String) throws -> Void
        public let run: @Sendable (String, JobContext) async throws -> String?
    }

    private let box = NIOLockedValueBox<[String: Runner]>([:])
    private var runners: [String: Runner] { box.withLockedValue { $0 } }

    public init() {}

    public var kinds: [String] { runners.keys.sorted() }

    public func register<Handler: JobHandler>(_ handler: Handler) {
        let runner = Runner(
            validate: { payload in
                try handler.validate(try Self.decode(Handler.Payload.self, payload, kind: Handler.kind))
            },
            run: { payload, context in
                let decoded: Handler.Payload
                do {
                    decoded = try Self.decode(Handler.Payload.self, payload, kind: Handler.kind)
                } catch let refusal as Refusal {
                    throw PermanentJobFailure(refusal.detail)
                }
                let output = try await handler.run(decoded, context: context)
                let encoder = JSONEncoder()
                encoder.outputFormatting = .sortedKeys
                return String(decoding: try encoder.encode(output), as: UTF8.self)
            })
        box.withLockedValue { $0[Handler.kind] = runner }
    }

    /// Refuses a request whose kind is unknown or whose payload does not decode (400).
    public func validate(_ request: JobRequest) throws {
        guard let runner = runners[request.kind] else {
            throw Refusal.invalid(
                "no job kind is called \"\(request.kind)\"; known kinds: \(kinds.joined(separator: ", "))",
                field: "kind")
        }
        guard request.maxAttempts >= 1 && request.maxAttempts <= 100 else {
            throw Refusal.invalid("max_attempts must be between 1 and 100", field: "max_attempts")
        }
        try runner.validate(request.payload)
    }

    public func runner(for kind: String) -> Runner? { runners[kind] }

    public static func decode<Payload: Decodable>(_ type: Payload.Type, _ text: String, kind: String) throws -> Payload
    {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch let error as DecodingError {
            throw Refusal.invalid(
                "the payload of a \(kind) job is malformed: \(IrisJSON.describe(error))", field: "payload")
        }
    }
}
