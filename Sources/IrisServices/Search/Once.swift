import Foundation

/// A value made once, on a thread of its own (making it may take seconds of CPU: WordNet's
/// files, a thousand sentences through a network), never on the cooperative pool. A failure
/// is kept too, so a missing file is reported the same way each time.
actor AsyncOnce<Value: Sendable> {
    private var made: Result<Value, any Error>?
    private var waiting: [CheckedContinuation<Value, any Error>] = []
    private var started = false
    private let make: @Sendable () throws -> Value

    init(_ make: @escaping @Sendable () throws -> Value) { self.make = make }

    /// The value, made now (or waited for) if it is not yet.
    func value() async throws -> Value {
        if let made { return try made.get() }
        start()
        return try await withCheckedThrowingContinuation { waiting.append($0) }
    }

    /// The value when it is made; nil while it is being made (which this starts).
    func ready() -> Value? {
        if let made { return try? made.get() }
        start()
        return nil
    }

    private func start() {
        guard !started else { return }
        started = true
        let make = self.make
        let thread = Thread { [self] in
            let result = Result { try make() }
            Task { await self.finish(result) }
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func finish(_ result: Result<Value, any Error>) {
        made = result
        for continuation in waiting { continuation.resume(with: result) }
        waiting = []
    }
}
