import Foundation

/// One `VectorIndex` shared by the searches reading it and the refresh changing it, behind a
/// reader–writer lock. Searches read it in place, many at once; a change waits for them and is
/// made in place. Handing out copies instead (the index is a value) made every change while a
/// search held a copy duplicate the vectors: nothing at thousands, gigabytes at a million.
public final class SharedIndex: @unchecked Sendable {
    private var index: VectorIndex
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    public init(_ index: VectorIndex) {
        self.index = index
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    /// Runs `body` on the index while no change is being made (other reads may run alongside).
    public func read<T>(_ body: (borrowing VectorIndex) throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body(index)
    }

    /// Changes the index in place, alone.
    func write<T>(_ body: (inout VectorIndex) throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body(&index)
    }
}
