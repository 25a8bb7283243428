extension Array {
    /// The elements in groups of at most `size`, so no statement binds more values than either
    /// database allows (a text search can gather tens of thousands of candidates, a bulk label
    /// change ten thousand photos).
    func chunked(_ size: Int = 1000) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
