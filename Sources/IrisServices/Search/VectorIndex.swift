import Dispatch
import Synchronization

/// Vectors of one dimension, each under a key (an image's hash) with the groups (projects) it
/// belongs to, searched exactly by cosine similarity. Vectors are stored unit-length in one
/// flat array, so a search is one pass of dot products. The filter (which groups the caller
/// may see, and what is hidden from them in each) is applied while scanning, never to a
/// finished top-k: a group of 3 among a million vectors still answers its 3.
public struct VectorIndex: Sendable {
    public let dimension: Int
    /// `dimension` floats per slot; a free slot's are zero.
    private var vectors: [Float] = []
    fileprivate private(set) var keys: [String?] = []
    fileprivate private(set) var groups: [[Int64]] = []
    private var slots: [String: Int] = [:]
    private var free: [Int] = []
    /// The slots of each group, for searching small groups without scanning everything.
    private var members: [Int64: Set<Int>] = [:]
    /// For approximate search over many vectors (`cluster`): nil until clustered.
    private var clusters: Clusters?

    public init(dimension: Int) { self.dimension = dimension }

    /// An inverted file (IVF): the vectors' slots sorted into lists by their nearest centroid,
    /// so a search scans the lists whose centroids are nearest the query, not every vector.
    /// The vectors stay where they are; a list holds slot numbers only (4 bytes a vector).
    struct Clusters: Sendable {
        var centroids: [Float]
        var lists: [[Int32]]
        /// Each slot's list and its place in it (-1: none).
        var listOf: [Int32]
        var placeOf: [Int32]
        var count: Int { lists.count }
    }

    /// Whether searches may be approximate (`cluster` has run), and over how many lists.
    public var clusterCount: Int { clusters?.count ?? 0 }
    /// How many vectors each list holds (empty when not clustered).
    public var listSizes: [Int] { clusters?.lists.map(\.count) ?? [] }
    /// Bytes the clusters add: the centroids, and 12 per vector (its slot in a list, its list
    /// and its place there).
    public var clusterBytes: Int {
        guard let clusters else { return 0 }
        return clusters.centroids.count * 4 + clusters.lists.reduce(0) { $0 + $1.count * 4 } + clusters.listOf.count * 8
    }

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

    /// One value of `key`'s stored vector.
    public func value(for key: String, at column: Int) -> Float? {
        guard let slot = slots[key], column >= 0, column < dimension else { return nil }
        return vectors[slot * dimension + column]
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
        if clusters != nil {
            unlist(slot)
            enlist(slot)
        }
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
        unlist(slot)
    }

    /// Puts a stored slot in the list of its nearest centroid.
    private mutating func enlist(_ slot: Int) {
        guard var made = clusters else { return }
        clusters = nil  // one owner while it changes: no copy of the lists
        while made.listOf.count < keys.count {
            made.listOf.append(-1)
            made.placeOf.append(-1)
        }
        let list = vectors.withUnsafeBufferPointer { all in
            made.centroids.withUnsafeBufferPointer { centroids in
                Self.nearestCentroid(all, from: slot * dimension, centroids, count: made.count, dimension: dimension)
            }
        }
        made.listOf[slot] = Int32(list)
        made.placeOf[slot] = Int32(made.lists[list].count)
        made.lists[list].append(Int32(slot))
        clusters = made
    }

    /// Takes a slot out of its list (swapping the list's last slot into its place).
    private mutating func unlist(_ slot: Int) {
        guard var made = clusters else { return }
        clusters = nil
        if slot < made.listOf.count, made.listOf[slot] >= 0 {
            let list = Int(made.listOf[slot])
            let place = Int(made.placeOf[slot])
            let last = made.lists[list].removeLast()
            if Int(last) != slot {
                made.lists[list][place] = last
                made.placeOf[Int(last)] = Int32(place)
            }
            made.listOf[slot] = -1
            made.placeOf[slot] = -1
        }
        clusters = made
    }

    /// Sorts every vector into `lists` lists by spherical k-means: centroids trained on up to
    /// `sample` vectors (chosen by `seed`) over `iterations` rounds, then every vector assigned
    /// to its nearest. Later upserts and removals keep the lists up to date. Spreads the work
    /// over `threads` threads.
    public mutating func cluster(
        lists wanted: Int, sample: Int = 32_768, iterations: Int = 8, seed: UInt64 = 1,
        threads: Int = 2
    ) {
        let stored = (0..<keys.count).filter { keys[$0] != nil }
        let lists = max(1, min(wanted, stored.count))
        guard !stored.isEmpty else {
            clusters = nil
            return
        }
        var state = seed
        func random(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        var picked = stored
        for index in 0..<min(sample, picked.count) { picked.swapAt(index, index + random(picked.count - index)) }
        let training = Array(picked.prefix(min(sample, picked.count)))
        let dimension = self.dimension
        var centroids = [Float](repeating: 0, count: lists * dimension)
        for list in 0..<lists {
            let slot = training[list * training.count / lists]
            for index in 0..<dimension { centroids[list * dimension + index] = vectors[slot * dimension + index] }
        }
        for _ in 0..<iterations {
            let assigned = assign(training, to: centroids, lists: lists, threads: threads)
            var sums = [Float](repeating: 0, count: lists * dimension)
            var sizes = [Int](repeating: 0, count: lists)
            for (position, slot) in training.enumerated() {
                let list = assigned[position]
                sizes[list] += 1
                for index in 0..<dimension { sums[list * dimension + index] += vectors[slot * dimension + index] }
            }
            for list in 0..<lists {
                // An empty list takes a random training vector, so no centroid is wasted.
                if sizes[list] == 0 {
                    let slot = training[random(training.count)]
                    for index in 0..<dimension { sums[list * dimension + index] = vectors[slot * dimension + index] }
                }
                var norm: Float = 0
                for index in 0..<dimension { norm += sums[list * dimension + index] * sums[list * dimension + index] }
                let scale = norm > 0 ? 1 / norm.squareRoot() : 0
                for index in 0..<dimension {
                    centroids[list * dimension + index] = sums[list * dimension + index] * scale
                }
            }
        }
        let assigned = assign(stored, to: centroids, lists: lists, threads: threads)
        var made = Clusters(
            centroids: centroids, lists: Array(repeating: [], count: lists),
            listOf: Array(repeating: -1, count: keys.count), placeOf: Array(repeating: -1, count: keys.count))
        for (position, slot) in stored.enumerated() {
            let list = assigned[position]
            made.listOf[slot] = Int32(list)
            made.placeOf[slot] = Int32(made.lists[list].count)
            made.lists[list].append(Int32(slot))
        }
        clusters = made
    }

    /// Each slot's nearest centroid, the slots split among `threads`.
    private func assign(_ slots: [Int], to centroids: [Float], lists: Int, threads: Int) -> [Int] {
        var assigned = [Int](repeating: 0, count: slots.count)
        let dimension = self.dimension
        let parts = max(1, min(threads, slots.count / 256 + 1))
        vectors.withUnsafeBufferPointer { all in
            centroids.withUnsafeBufferPointer { centres in
                assigned.withUnsafeMutableBufferPointer { out in
                    let output = SendablePointer(out.baseAddress!)
                    let (allPointer, centrePointer) = (SendableBuffer(all), SendableBuffer(centres))
                    DispatchQueue.concurrentPerform(iterations: parts) { part in
                        for position in stride(from: part, to: slots.count, by: parts) {
                            output.pointer[position] = Self.nearestCentroid(
                                allPointer.buffer, from: slots[position] * dimension, centrePointer.buffer,
                                count: lists, dimension: dimension)
                        }
                    }
                }
            }
        }
        return assigned
    }

    @inline(__always)
    static func nearestCentroid(
        _ all: UnsafeBufferPointer<Float>, from start: Int, _ centroids: UnsafeBufferPointer<Float>, count: Int,
        dimension: Int
    ) -> Int {
        var best = 0
        var bestScore = -Float.infinity
        let vector = UnsafeBufferPointer(rebasing: all[start..<(start + dimension)])
        for list in 0..<count {
            let score = dot(vector, centroids, from: list * dimension, count: dimension)
            if score > bestScore { (best, bestScore) = (list, score) }
        }
        return best
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
    ///
    /// Exact unless `probes` is given and the index is clustered: then only the vectors of the
    /// `probes` lists nearest the query are compared (more lists are taken, up to all, while
    /// fewer than `k` visible vectors were found, so a filter never empties the answer). A
    /// large scan (65,536 vectors exact, 16,384 in lists) is split over `threads` threads.
    public func nearest(
        to query: [Float], k: Int, in allowed: Set<Int64>?, excluding: Set<String> = [],
        hidden: [Int64: Set<String>] = [:], probes: Int? = nil, threads: Int = 1
    ) -> [Hit] {
        guard k > 0, query.count == dimension else { return [] }
        let norm = query.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0, norm.isFinite else { return [] }
        let unit = query.map { $0 / norm }
        return vectors.withUnsafeBufferPointer { all in
            unit.withUnsafeBufferPointer { q in
                let scan = Scan(
                    index: self, query: SendableBuffer(q), all: SendableBuffer(all), allowed: allowed,
                    excluding: excluding, hidden: hidden)
                let postings = allowed.map { $0.reduce(0) { $0 + (members[$1]?.count ?? 0) } } ?? Int.max
                if let allowed, postings < count / 2 {
                    // Few candidates: only the allowed groups' slots, each once.
                    var best = TopK(k: k)
                    var seen = Set<Int>()
                    for group in allowed {
                        for slot in members[group] ?? [] where seen.insert(slot).inserted {
                            scan.consider(slot, into: &best)
                        }
                    }
                    return best.sorted()
                }
                if let probes, let clusters {
                    let order = clusters.centroids.withUnsafeBufferPointer { centroids in
                        (0..<clusters.count).map {
                            ($0, Self.dot(q, centroids, from: $0 * dimension, count: dimension))
                        }
                    }.sorted { $0.1 > $1.1 }.map(\.0)
                    var best = TopK(k: k)
                    var taken = 0
                    var wanted = max(1, probes)
                    while taken < order.count {
                        let round = Array(order[taken..<min(wanted, order.count)])
                        let lists = clusters.lists
                        if threads > 1, round.reduce(0, { $0 + lists[$1].count }) >= 16_384 {
                            // Many vectors to compare: the lists are shared out among the threads.
                            let hits = Self.inParts(threads, k: k) { part, local in
                                for position in stride(from: part, to: round.count, by: threads) {
                                    for slot in lists[round[position]] { scan.consider(Int(slot), into: &local) }
                                }
                            }
                            for hit in hits { best.offer(hit) }
                        } else {
                            for list in round { for slot in lists[list] { scan.consider(Int(slot), into: &best) } }
                        }
                        taken = min(wanted, order.count)
                        if best.count >= k { break }
                        wanted *= 2
                    }
                    return best.sorted()
                }
                let parts = keys.count >= 65_536 ? max(1, threads) : 1
                let total = keys.count
                if parts == 1 {
                    var best = TopK(k: k)
                    for slot in 0..<total { scan.consider(slot, into: &best) }
                    return best.sorted()
                }
                let chunk = (total + parts - 1) / parts
                return Self.inParts(parts, k: k) { part, best in
                    for slot in (part * chunk)..<min(total, (part + 1) * chunk) { scan.consider(slot, into: &best) }
                }
            }
        }
    }

    /// Runs `scan` for parts 0..<`parts` at once, each into a top `k` of its own, and answers the
    /// best `k` of them all, best first.
    static func inParts(_ parts: Int, k: Int, _ scan: @Sendable (Int, inout TopK) -> Void) -> [Hit] {
        let found = Mutex<[Hit]>([])
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            var best = TopK(k: k)
            scan(part, &best)
            let hits = best.sorted()
            found.withLock { $0.append(contentsOf: hits) }
        }
        var merged = TopK(k: k)
        for hit in found.withLock({ $0 }) { merged.offer(hit) }
        return merged.sorted()
    }

    /// One search's query and filter, shared by the threads scanning parts of the index.
    struct Scan: Sendable {
        let index: VectorIndex
        let query: SendableBuffer<Float>
        let all: SendableBuffer<Float>
        let allowed: Set<Int64>?
        let excluding: Set<String>
        let hidden: [Int64: Set<String>]

        /// The score first: only a vector that would enter the top k is checked against the filter.
        @inline(__always)
        func consider(_ slot: Int, into best: inout TopK) {
            guard let key = index.keys[slot] else { return }
            let score = VectorIndex.dot(query.buffer, all.buffer, from: slot * index.dimension, count: index.dimension)
            guard best.admits(score), let group = visibleGroup(slot, key) else { return }
            best.offer(Hit(key: key, similarity: score, group: group))
        }

        func visibleGroup(_ slot: Int, _ key: String) -> Int64? {
            guard !excluding.contains(key) else { return nil }
            for group in index.groups[slot] where allowed?.contains(group) ?? true {
                if hidden[group]?.contains(key) != true { return group }
            }
            return nil
        }
    }

    /// The dot product of `q` with `count` floats of `all` from `start`, sixteen lanes at a time
    /// (two independent sums of eight, so additions do not wait on each other).
    @inline(__always)
    static func dot(_ q: UnsafeBufferPointer<Float>, _ all: UnsafeBufferPointer<Float>, from start: Int, count: Int)
        -> Float
    {
        var sum = SIMD8<Float>()
        var other = SIMD8<Float>()
        var index = 0
        let a = UnsafeRawPointer(q.baseAddress!)
        let b = UnsafeRawPointer(all.baseAddress! + start)
        let stride = MemoryLayout<Float>.stride
        // A multiply and an add, not `addingProduct`: a fused multiply-add is a library call
        // per lane on x86-64's baseline (no FMA), which made a search 11 times slower.
        while index + 16 <= count {
            sum +=
                a.loadUnaligned(fromByteOffset: index * stride, as: SIMD8<Float>.self)
                * b.loadUnaligned(fromByteOffset: index * stride, as: SIMD8<Float>.self)
            other +=
                a.loadUnaligned(fromByteOffset: (index + 8) * stride, as: SIMD8<Float>.self)
                * b.loadUnaligned(fromByteOffset: (index + 8) * stride, as: SIMD8<Float>.self)
            index += 16
        }
        if index + 8 <= count {
            sum +=
                a.loadUnaligned(fromByteOffset: index * stride, as: SIMD8<Float>.self)
                * b.loadUnaligned(fromByteOffset: index * stride, as: SIMD8<Float>.self)
            index += 8
        }
        var total = (sum + other).sum()
        let (qa, qb) = (q.baseAddress!, all.baseAddress! + start)
        while index < count {
            total += qa[index] * qb[index]
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

    var count: Int { heap.count }

    /// Whether a hit of this similarity could enter (ties are decided by key in `offer`).
    @inline(__always)
    func admits(_ similarity: Float) -> Bool { heap.count < k || similarity >= heap[0].similarity }

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

/// Pointers handed to `concurrentPerform`'s threads, each writing its own positions.
struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

struct SendableBuffer<T>: @unchecked Sendable {
    let buffer: UnsafeBufferPointer<T>
    init(_ buffer: UnsafeBufferPointer<T>) { self.buffer = buffer }
}
