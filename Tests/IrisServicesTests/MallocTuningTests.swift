import Foundation
import Testing

@testable import IrisServices

/// `memory.malloc_arenas`: glibc's mallopt is found by name and takes the limit; 0 leaves
/// glibc alone. (The effect on memory is measured by `make bench`.)
@Suite struct MallocTuningTests {
    @Test func glibcTakesTheArenaLimit() {
        guard ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil else { return }
        #expect(MallocTuning.apply(arenas: 0) == false)
        #expect(MallocTuning.apply(arenas: 8) == true)
    }
}
