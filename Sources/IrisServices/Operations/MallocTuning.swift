import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// glibc gives each thread that meets contention a malloc arena of its own (up to 8 per core)
/// and keeps freed memory in them. With libvips, ONNX Runtime and the server all allocating
/// from many threads, that kept memory made up a fifth of the peak: analysing 64 concurrent
/// 4 MP uploads peaked at 645–667 MB with the default and 515–530 MB with 2 arenas, in the
/// same time (docs/DESIGN.md). `memory.malloc_arenas` sets the limit; `MALLOC_ARENA_MAX` in the
/// environment (read by glibc itself) wins.
public enum MallocTuning {
    /// glibc's `M_ARENA_MAX` parameter number (malloc.h).
    public static let arenaMax: Int32 = -8

    /// Answers whether glibc took the limit (false when none is set, or glibc is not there).
    @discardableResult
    public static func apply(arenas: Int) -> Bool {
        #if canImport(Glibc)
            guard arenas > 0, ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil,
                // Swift's Glibc module leaves out malloc.h, so mallopt is looked up by name.
                let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt")
            else { return false }
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            return unsafeBitCast(symbol, to: Mallopt.self)(arenaMax, Int32(arenas)) == 1
        #else
            return false
        #endif
    }

    /// Hands memory that is free inside malloc's heaps back to the system (`malloc_trim`).
    public static func trim() {
        #if canImport(Glibc)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
            typealias MallocTrim = @convention(c) (Int) -> Int32
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }
}
