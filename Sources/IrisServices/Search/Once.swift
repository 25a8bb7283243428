import Foundation

/// A value made the first time it is asked for (a failure is kept too, so a missing file is
/// reported the same way each time rather than retried on every request).
final class Once<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var made: Result<Value, any Error>?
    private let make: @Sendable () throws -> Value

    init(_ make: @escaping @Sendable () throws -> Value) { self.make = make }

    func value() throws -> Value {
        lock.lock()
        defer { lock.unlock() }
        if made == nil { made = Result { try make() } }
        return try made!.get()
    }
}
