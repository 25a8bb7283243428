/// Vectors of one dimension, each under a key (an image's hash) with the groups (projects) it
/// belongs to, searched exactly by cosine similarity. Vectors are stored unit-length in one
/// flat array, so a search is one pass of dot products. The filter (which groups the caller
/// may see, and what is hidden from them in each) is applied while scanning, never to a
/// finished top-k: a group of 3 among a million vectors still answers its 3.
public struct VectorIndex: Sendable {
    public let dimension: Int
    /// `dimension` floats per slot; a free slot's are zero.
    private var vectors: [Float] = []
    private var keys: [String?] = []
    private var groups: [[Int64]] = []
    private var slots: [String: Int] = [:]
    private var free: [Int] = []
    /// The slots of each group, for searching small groups without scanning everything.
    private var members: [Int64: Set<Int>] = [:]

    public init(dimension: Int) { self.dimension = dimension }

    /// Vectors held.
    public var count: Int { slots.count }
    /// Bytes the vectors take (what a million of them cost is `bytesPerVector × 10⁶`).
    public var bytesPerVector: Int { dimension * MemoryLayout<Float>.size }

    public func contains(_ key: String) -> Bool { slots[key] != nil }

    /// The stored (unit-length) vector of `key`.
    public func vector(for key: String) -> [Float]? {
        guard let slot = slots[key] else { return nil }
        return Array(vectors[slot * dimension..<(slot + 1) * dimension])
    }

    /// Adds or replaces `key`'s vector and groups. A vector of the wrong dimension, of zero
    /// length or with a non-finite value is not stored (and any old one is removed): answers false.
    @discardableResult
    public mutating func upsert(_ key: String, vector: [Float], groups keyGroups: [Int64]) -> Bool {
        guard vector.count == dimension, vector.allSatisfy(\.isFinite) else {
            remove(key)
            return false
        }
        let norm = vector.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else {
            remove(key)
            return false
        }
        let slot: Int
        if let existing = slots[key] {
            slot = existing
            for group in groups[slot] { members[group]?.remove(slot) }
        } else if let reused = free.popLast() {
            slot = reused
        } else {
            slot = keys.count
            keys.append(nil)
            groups.append([])
            vectors.append(contentsOf: repeatElement(0, count: dimension))
        }
        for index in 0..<dimension { vectors[slot * dimension + index] = vector[index] / norm }
        keys[slot] = key
        groups[slot] = Array(Set(keyGroups)).sorted()
        for group in groups[slot] { members[group, default: []].insert(slot) }
        slots[key] = slot
        return true
    }

    public mutating func remove(_ key: String) {
        guard let slot = slots.removeValue(forKey: key) else { return }
        for group in groups[slot] {
            members[group]?.remove(slot)
            if members[group]?.isEmpty == true { members[group] = nil }
        }
        keys[slot] = nil
        groups[slot] = []
        for index in 0..<dimension { vectors[slot * dimension + index] = 0 }
        free.append(slot)
    }

    /// One search result: the key, its cosine similarity to the query, and a group it may be
    /// shown in (the first allowed one where it is not hidden).
    public struct Hit: Sendable, Equatable {
        public var key: String
        public var similarity: Float
        public var group: Int64
    }

    /// The `k` vectors most similar to `query` (best first) among those in `allowed` groups
    /// (nil: every group), leaving out `excluding` and, in each group, what `hidden` holds for it.
    public func nearest(
        to query: [Float], k: Int, in allowed: Set<Int64>?, excluding: Set<String> = [],
        hidden: [Int64: Set<String>] = [:]
    ) -> [Hit] {
        guard k > 0, query.count == dimension else { return [] }
        let norm = query.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0, norm.isFinite else { return [] }
        let unit = query.map { $0 / norm }
        var best = TopK(k: k)
        func visibleGroup(_ slot: Int) -> Int64? {
            guard let key = keys[slot], !excluding.contains(key) else { return nil }
            for group in groups[slot] where allowed?.contains(group) ?? true {
                if hidden[group]?.contains(key) != true { return group }
            }
            return nil
        }
        vectors.withUnsafeBufferPointer { all in
            unit.withUnsafeBufferPointer { q in
                func consider(_ slot: Int) {
                    guard let group = visibleGroup(slot) else { return }
                    let score = Self.dot(q, all, from: slot * dimension, count: dimension)
                    best.offer(Hit(key: keys[slot]!, similarity: score, group: group))
                }
                let postings = allowed.map { $0.reduce(0) { $0 + (members[$1]?.count ?? 0) } } ?? Int.max
                if let allowed, postings < count / 2 {
                    // Few candidates: only the allowed groups' slots, each once.
                    var seen = Set<Int>()
                    for group in allowed {
                        for slot in members[group] ?? [] where seen.insert(slot).inserted { consider(slot) }
                    }
                } else {
                    for slot in 0..<keys.count where keys[slot] != nil { consider(slot) }
                }
            }
        }
        return best.sorted()
    }

    /// The dot product of `q` with `count` floats of `all` from `start`, eight lanes at a time.
    @inline(__always)
    static func dot(_ q: UnsafeBufferPointer<Float>, _ all: UnsafeBufferPointer<Float>, from start: Int, count: Int)
        -> Float
    {
        var sum = SIMD8<Float>()
        var index = 0
        let a = q.baseAddress!
        let b = all.baseAddress! + start
        while index + 8 <= count {
            let left = UnsafeRawPointer(a + index).loadUnaligned(as: SIMD8<Float>.self)
            let right = UnsafeRawPointer(b + index).loadUnaligned(as: SIMD8<Float>.self)
            sum = sum.addingProduct(left, right)
            index += 8
        }
        var total = sum.sum()
        while index < count {
            total += a[index] * b[index]
            index += 1
        }
        return total
    }
}

/// The best `k` hits seen so far: a min-heap on similarity (ties: the smaller key wins, so
/// results do not depend on storage order).
struct TopK {
    let k: Int
    private var heap: [VectorIndex.Hit] = []

    init(k: Int) {
        self.k = k
        heap.reserveCapacity(min(k, 4096))
    }

    /// `a` ranks below `b`.
    private static func below(_ a: VectorIndex.Hit, _ b: VectorIndex.Hit) -> Bool {
        a.similarity != b.similarity ? a.similarity < b.similarity : a.key > b.key
    }

    mutating func offer(_ hit: VectorIndex.Hit) {
        if heap.count < k {
            heap.append(hit)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard Self.below(heap[child], heap[parent]) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        } else if let worst = heap.first, Self.below(worst, hit) {
            heap[0] = hit
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < heap.count, Self.below(heap[left], heap[smallest]) { smallest = left }
                if right < heap.count, Self.below(heap[right], heap[smallest]) { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
    }

    func sorted() -> [VectorIndex.Hit] { heap.sorted { Self.below($1, $0) } }
}
