import Foundation

/// A 2-D layout of a project's photo embeddings for the map view: photos that look alike land
/// near each other. The method is UMAP (McInnes, Healy & Melville 2018), written here and
/// nothing else: the features are centred and projected onto their top principal components
/// (50 by default: the neighbours found there are nearly those of the full 1,280-d space, at a
/// twenty-fifth of the cost), each point's exact k nearest neighbours become a fuzzy graph, and
/// stochastic gradient descent places the points so that graph neighbours attract and random
/// pairs repel, starting from the 2-D PCA picture so that the global arrangement is stable.
///
/// Pure arithmetic, no I/O. The cost is the exact neighbour search, O(n² × 50): 50,000 photos
/// take seconds on two cores (docs/LEARNING.md is where the measurements belong).
public enum MapLayout {
    public struct Options: Sendable {
        /// Neighbours per point in the graph (the point itself not counted). More keeps more
        /// of the global structure, fewer more of the local; 15 is UMAP's default.
        public var neighbours = 15
        /// Optimisation epochs; nil picks 200 below 10,000 points and fewer above (down to
        /// 100), where the larger graph gives each epoch more updates per point anyway.
        public var epochs: Int?
        /// How tightly points may pack in the layout, in the curve's units (UMAP's `min_dist`).
        public var minDistance = 0.1
        /// Principal components the neighbours are found in.
        public var pcaDimensions = 50
        /// Random pairs pushed apart for each graph edge pulled together (UMAP's default).
        public var negativeSamples = 5
        /// The same seed and features give the same layout.
        public var seed: UInt64 = 42
        /// Threads for the projection and the neighbour search (the descent runs on one, which
        /// keeps it repeatable; it is a small share of the time).
        public var threads = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))

        public init(
            neighbours: Int = 15, epochs: Int? = nil, minDistance: Double = 0.1, pcaDimensions: Int = 50,
            seed: UInt64 = 42
        ) {
            self.neighbours = neighbours
            self.epochs = epochs
            self.minDistance = minDistance
            self.pcaDimensions = pcaDimensions
            self.seed = seed
        }

        /// The epochs for `count` points: 200 up to 10,000, then 2,000,000 / count, at least 100.
        func epochs(for count: Int) -> Int {
            if let epochs { return max(1, min(epochs, 10_000)) }
            return count < 10_000 ? 200 : max(100, 2_000_000 / count)
        }
    }

    /// Lays out `features` (n vectors of one dimension, typically L2-normalised 1,280-d
    /// embeddings) in the plane. Answers n points scaled uniformly into [0, 1]² (the aspect
    /// ratio is kept; the longer side spans 0…1). `progress` hears 0…1 on the calling thread;
    /// `isCancelled` is asked between stages, neighbour-search chunks and epochs.
    public static func layout(
        _ features: [[Float]], options: Options = .init(), progress: (Double) -> Void = { _ in },
        isCancelled: () -> Bool = { false }
    ) throws -> [SIMD2<Float>] {
        let count = features.count
        guard count > 1 else { return count == 1 ? [SIMD2(0.5, 0.5)] : [] }
        let dimension = try checkedDimension(features)
        let threads = max(1, options.threads)
        func checkpoint() throws {
            if isCancelled() { throw CancellationError() }
        }

        // Share of the progress bar per stage, from a 50,000-point run on two cores.
        let projectionShare = 0.15
        let searchShare = 0.45
        let graphShare = 0.05
        let components = max(2, min(options.pcaDimensions, dimension))
        let projection = try principalComponents(
            features, dimension: dimension, components: components, seed: options.seed, threads: threads,
            checkpoint: checkpoint)
        progress(projectionShare)

        let neighbours = max(1, min(options.neighbours, count - 1))
        let nearest = try nearestNeighbours(
            projection.values, count: count, dimension: projection.components, neighbours: neighbours,
            threads: threads, checkpoint: checkpoint,
            progress: { progress(projectionShare + searchShare * $0) })
        try checkpoint()

        let epochs = options.epochs(for: count)
        let graph = fuzzyGraph(
            indices: nearest.indices, distances: nearest.distances, count: count, neighbours: neighbours,
            epochs: epochs)
        progress(projectionShare + searchShare + graphShare)

        var embedding = initialLayout(projection, count: count, seed: options.seed)
        let curve = curve(minDistance: options.minDistance)
        let descentStart = projectionShare + searchShare + graphShare
        try optimise(
            &embedding, graph: graph, count: count, epochs: epochs, a: Float(curve.a), b: Float(curve.b),
            negativeSamples: max(0, options.negativeSamples), seed: options.seed, checkpoint: checkpoint,
            progress: { progress(min(descentStart + (1 - descentStart) * $0, 1)) })
        progress(1)
        return unitSquare(embedding, count: count)
    }

    /// The features centred and projected onto their top `dimensions` principal components,
    /// largest variance first: n rows of min(`dimensions`, feature dimension) values.
    /// Randomised (Halko, Martinsson & Tropp 2011: a Gaussian sketch, two power iterations,
    /// then an exact SVD of the small projected matrix), so `seed` fixes the answer; with
    /// `dimensions` + 10 ≥ the rank of the data it is exact. `dimensions: 2` is the plain
    /// PCA picture the UMAP layout is measured against.
    public static func pca(_ features: [[Float]], dimensions: Int, seed: UInt64) -> [[Float]] {
        guard let dimension = try? checkedDimension(features), dimensions > 0, !features.isEmpty else {
            return features.map { _ in [] }
        }
        let threads = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
        let components = min(dimensions, dimension)
        guard
            let projection = try? principalComponents(
                features, dimension: dimension, components: components, seed: seed, threads: threads,
                checkpoint: {})
        else { return features.map { _ in [] } }
        return (0..<features.count).map { row in
            Array(projection.values[(row * projection.components)..<((row + 1) * projection.components)])
        }
    }

    /// How well a layout keeps neighbourhoods: for each point, the share of its `k` nearest
    /// neighbours in the layout that are among its `within` nearest in the original space,
    /// averaged. Looser than exact agreement (`within` > `k`) because a 2-D picture cannot
    /// keep the order of a 1,280-d neighbourhood, only its membership. The original-space
    /// neighbours cost n × dimension per point, so at most `sample` points (spread evenly
    /// over the list) are averaged; below that every point is.
    public static func neighbourPreservation(
        original: [[Float]], layout: [SIMD2<Float>], k: Int = 10, within: Int = 20, sample: Int = 1_000
    ) -> Double {
        let count = min(original.count, layout.count)
        guard count > 1, k > 0 else { return 1 }
        let near = min(k, count - 1)
        let wide = min(max(within, near), count - 1)
        let queries = min(count, max(1, sample))
        var norms = [Float](repeating: 0, count: count)
        for row in 0..<count {
            norms[row] = original[row].withUnsafeBufferPointer { x in
                guard let base = x.baseAddress else { return 0 }
                return VectorMath.dot(base, base, count: x.count)
            }
        }
        let threads = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8, queries))
        var shares = [Double](repeating: 0, count: queries)
        shares.withUnsafeMutableBufferPointer { out in
            guard let base = out.baseAddress else { return }
            let output = SharedPointer(base)
            let norms = norms
            inParallel(threads) { part in
                var layoutBest = TopK(capacity: near)
                var originalBest = TopK(capacity: wide)
                var scores = [Float](repeating: 0, count: count)
                for position in stride(from: part, to: queries, by: threads) {
                    let query = position * count / queries
                    layoutBest.reset()
                    for other in 0..<count where other != query {
                        let delta = layout[other] - layout[query]
                        layoutBest.offer((delta * delta).sum(), index: other)
                    }
                    original[query].withUnsafeBufferPointer { q in
                        guard let qBase = q.baseAddress else { return }
                        for other in 0..<count {
                            scores[other] = original[other].withUnsafeBufferPointer { x in
                                guard let xBase = x.baseAddress else { return .infinity }
                                return norms[other] - 2 * VectorMath.dot(qBase, xBase, count: min(q.count, x.count))
                            }
                        }
                    }
                    originalBest.reset()
                    for other in 0..<count where other != query { originalBest.offer(scores[other], index: other) }
                    let wideSet = Set(originalBest.indices)
                    let kept = layoutBest.indices.filter { wideSet.contains($0) }.count
                    output.pointer[position] = Double(kept) / Double(near)
                }
            }
        }
        return shares.reduce(0, +) / Double(queries)
    }

    /// UMAP's curve 1 / (1 + a·d^2b) for the layout's similarities, fitted by least squares
    /// (Levenberg–Marquardt, on 300 distances over 0…3·spread, as the paper's implementation
    /// does) to the target that is 1 up to `minDistance` and exp(−(d − minDistance)/spread)
    /// beyond. For `minDistance` 0.1 and `spread` 1: a ≈ 1.577, b ≈ 0.895.
    public static func curve(minDistance: Double, spread: Double = 1) -> (a: Double, b: Double) {
        let samples = 300
        let spread = spread > 0 ? spread : 1
        let xs = (0..<samples).map { 3 * spread * Double($0) / Double(samples - 1) }
        let targets = xs.map { $0 < minDistance ? 1 : Foundation.exp(-($0 - minDistance) / spread) }
        func loss(_ a: Double, _ b: Double) -> Double {
            var total = 0.0
            for (x, target) in zip(xs, targets) {
                let residual = 1 / (1 + a * Foundation.pow(x, 2 * b)) - target
                total += residual * residual
            }
            return total
        }
        var (a, b) = (1.0, 1.0)
        var current = loss(a, b)
        var damping = 1e-3
        // Each accepted step lowers the loss; 200 rounds is far more than the ~20 it takes.
        for _ in 0..<200 {
            var (jaa, jab, jbb, ga, gb) = (0.0, 0.0, 0.0, 0.0, 0.0)
            for (x, target) in zip(xs, targets) where x > 0 {
                let power = Foundation.pow(x, 2 * b)
                let denominator = 1 + a * power
                let residual = 1 / denominator - target
                let da = -power / (denominator * denominator)
                let db = -a * power * 2 * Foundation.log(x) / (denominator * denominator)
                jaa += da * da
                jab += da * db
                jbb += db * db
                ga += da * residual
                gb += db * residual
            }
            let (m00, m11) = (jaa * (1 + damping), jbb * (1 + damping))
            let determinant = m00 * m11 - jab * jab
            guard determinant > 0, determinant.isFinite else { break }
            let stepA = -(m11 * ga - jab * gb) / determinant
            let stepB = -(m00 * gb - jab * ga) / determinant
            let (nextA, nextB) = (a + stepA, b + stepB)
            let next = nextA > 0 && nextB > 0 ? loss(nextA, nextB) : .infinity
            if next < current {
                (a, b, current) = (nextA, nextB, next)
                damping = max(damping / 10, 1e-12)
                if abs(stepA) < 1e-10 && abs(stepB) < 1e-10 { break }
            } else {
                damping *= 10
                if damping > 1e12 { break }
            }
        }
        return (a, b)
    }
}

// MARK: - Checking the input

extension MapLayout {
    /// The features' one dimension; throws for rows of different lengths or values that are
    /// not finite (one NaN would spread through the projection to every point).
    static func checkedDimension(_ features: [[Float]]) throws -> Int {
        guard let dimension = features.first?.count, dimension > 0 else {
            throw LearningError("the map needs features with at least one dimension")
        }
        for (row, feature) in features.enumerated() {
            guard feature.count == dimension else {
                throw LearningError("feature \(row) has \(feature.count) values, the first has \(dimension)")
            }
            guard feature.allSatisfy(\.isFinite) else {
                throw LearningError("feature \(row) has a value that is not a finite number")
            }
        }
        return dimension
    }
}

// MARK: - Principal components

extension MapLayout {
    /// n × `components` coordinates, row-major.
    struct Projection {
        var values: [Float]
        var components: Int
    }

    /// The randomised PCA behind `pca`, without copying the features: the mean is subtracted
    /// in the products (x − μ)·m = x·m − μ·m, because a centred copy of 50,000 × 1,280 floats
    /// is another 256 MB.
    static func principalComponents(
        _ features: [[Float]], dimension: Int, components: Int, seed: UInt64, threads: Int,
        checkpoint: () throws -> Void
    ) throws -> Projection {
        let count = features.count
        let components = max(1, min(components, dimension))
        // Ten extra sketch directions make the top `components` accurate (Halko et al. §4.2).
        let sketch = min(components + 10, dimension)
        let mean = meanFeature(features, dimension: dimension)
        var rng = SplitMix(seed: seed ^ 0x5043_4131)

        var directions = [Float](repeating: 0, count: sketch * dimension)
        for index in directions.indices { directions[index] = Float(gaussian(&rng)) }
        // basis: the sketch's orthonormal basis of the column space, column-major (sketch × count).
        var basis = transposed(
            multiply(features, mean: mean, by: directions, rows: sketch, dimension: dimension, threads: threads),
            rows: count, columns: sketch)
        orthonormaliseRows(&basis, count: sketch, length: count)
        try checkpoint()
        // Two power iterations sharpen the basis where the spectrum decays slowly, as it does
        // for embeddings (Halko et al. §4.5); each is two passes over the features.
        for _ in 0..<2 {
            directions = transposeMultiply(
                features, mean: mean, by: basis, rows: sketch, dimension: dimension, threads: threads)
            orthonormaliseRows(&directions, count: sketch, length: dimension)
            try checkpoint()
            basis = transposed(
                multiply(features, mean: mean, by: directions, rows: sketch, dimension: dimension, threads: threads),
                rows: count, columns: sketch)
            orthonormaliseRows(&basis, count: sketch, length: count)
            try checkpoint()
        }
        // The small matrix B = Qᵀ(X − μ) (sketch × dimension): the SVD of B is that of the
        // data in the basis, found from the eigenvectors of B·Bᵀ (sketch × sketch).
        let small = transposeMultiply(
            features, mean: mean, by: basis, rows: sketch, dimension: dimension, threads: threads)
        var gram = [Double](repeating: 0, count: sketch * sketch)
        small.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return }
            for row in 0..<sketch {
                for column in row..<sketch {
                    let value = Double(
                        VectorMath.dot(base + row * dimension, base + column * dimension, count: dimension))
                    gram[row * sketch + column] = value
                    gram[column * sketch + row] = value
                }
            }
        }
        let eigen = symmetricEigen(gram, size: sketch)
        // Coordinates (X − μ)·V = Q·U·Σ: no further pass over the features.
        var weights = [Float](repeating: 0, count: sketch * components)
        for component in 0..<min(components, sketch) {
            let singular = Foundation.sqrt(max(eigen.values[component], 0))
            for row in 0..<sketch {
                weights[row * components + component] = Float(eigen.vectors[row * sketch + component] * singular)
            }
        }
        var values = [Float](repeating: 0, count: count * components)
        for point in 0..<count {
            for row in 0..<sketch {
                let q = basis[row * count + point]
                guard q != 0 else { continue }
                for component in 0..<components {
                    values[point * components + component] += q * weights[row * components + component]
                }
            }
        }
        return Projection(values: values, components: components)
    }

    static func meanFeature(_ features: [[Float]], dimension: Int) -> [Float] {
        var sum = [Double](repeating: 0, count: dimension)
        sum.withUnsafeMutableBufferPointer { total in
            for feature in features {
                feature.withUnsafeBufferPointer { x in
                    for index in 0..<min(dimension, x.count) { total[index] += Double(x[index]) }
                }
            }
        }
        let scale = 1 / Double(max(features.count, 1))
        return sum.map { Float($0 * scale) }
    }

    /// A standard normal draw (Box–Muller).
    static func gaussian(_ rng: inout SplitMix) -> Double {
        // 53-bit uniforms in (0, 1): the logarithm never sees 0.
        let u1 = (Double(rng.next() >> 11) + 0.5) * 0x1p-53
        let u2 = (Double(rng.next() >> 11) + 0.5) * 0x1p-53
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// (X − μ)·Mᵀ for M given as `rows` rows of `dimension`: count × rows, row-major. Four
    /// points at a time are copied side by side, so each load of M serves four of them.
    static func multiply(
        _ features: [[Float]], mean: [Float], by matrix: [Float], rows: Int, dimension: Int, threads: Int
    ) -> [Float] {
        let count = features.count
        var offsets = [Float](repeating: 0, count: rows)
        mean.withUnsafeBufferPointer { mu in
            matrix.withUnsafeBufferPointer { m in
                guard let muBase = mu.baseAddress, let mBase = m.baseAddress else { return }
                for row in 0..<rows { offsets[row] = VectorMath.dot(muBase, mBase + row * dimension, count: dimension) }
            }
        }
        var out = [Float](repeating: 0, count: count * rows)
        let groups = (count + 3) / 4
        out.withUnsafeMutableBufferPointer { o in
            matrix.withUnsafeBufferPointer { m in
                guard let outBase = o.baseAddress, let mBase = m.baseAddress else { return }
                let (output, input) = (SharedPointer(outBase), SharedPointer(UnsafeMutablePointer(mutating: mBase)))
                let offsets = offsets
                let parts = max(1, min(threads, groups / 16))
                inParallel(parts) { part in
                    var four = [Float](repeating: 0, count: 4 * dimension)
                    four.withUnsafeMutableBufferPointer { scratch in
                        guard let block = scratch.baseAddress else { return }
                        for group in stride(from: part, to: groups, by: parts) {
                            let valid = gatherFour(features, from: group * 4, into: block, dimension: dimension)
                            for row in 0..<rows {
                                let dots = dotFour(block, input.pointer + row * dimension, count: dimension)
                                for point in 0..<valid {
                                    output.pointer[(group * 4 + point) * rows + row] = dots[point] - offsets[row]
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Yᵀ(X − μ) for Y given column-major (`rows` columns of `count`): rows × dimension.
    /// Each thread sums its share of the points into its own rows × dimension block (300 KB
    /// at 60 × 1,280: it stays in the core's cache), four points per pass over the block, and
    /// the blocks are added at the end.
    static func transposeMultiply(
        _ features: [[Float]], mean: [Float], by columns: [Float], rows: Int, dimension: Int, threads: Int
    ) -> [Float] {
        let count = features.count
        let groups = (count + 3) / 4
        let parts = max(1, min(threads, groups / 16))
        var partial = [Float](repeating: 0, count: parts * rows * dimension)
        partial.withUnsafeMutableBufferPointer { p in
            columns.withUnsafeBufferPointer { y in
                guard let partialBase = p.baseAddress, let yBase = y.baseAddress else { return }
                let (output, input) = (SharedPointer(partialBase), SharedPointer(UnsafeMutablePointer(mutating: yBase)))
                inParallel(parts) { part in
                    let sums = output.pointer + part * rows * dimension
                    var four = [Float](repeating: 0, count: 4 * dimension)
                    four.withUnsafeMutableBufferPointer { scratch in
                        guard let block = scratch.baseAddress else { return }
                        for group in stride(from: part, to: groups, by: parts) {
                            let first = group * 4
                            let valid = gatherFour(features, from: first, into: block, dimension: dimension)
                            for row in 0..<rows {
                                var scales = SIMD4<Float>()
                                for point in 0..<valid { scales[point] = input.pointer[row * count + first + point] }
                                addScaledFour(block, scales, to: sums + row * dimension, count: dimension)
                            }
                        }
                    }
                }
            }
        }
        var out = Array(partial[0..<(rows * dimension)])
        for part in 1..<max(parts, 1) {
            for index in 0..<(rows * dimension) { out[index] += partial[part * rows * dimension + index] }
        }
        for row in 0..<rows {
            var columnSum: Float = 0
            for point in 0..<count { columnSum += columns[row * count + point] }
            for index in 0..<dimension { out[row * dimension + index] -= columnSum * mean[index] }
        }
        return out
    }

    /// Copies up to four features, from `first` on, into `block` one after another (zeros
    /// after the last feature); answers how many there were.
    @inline(__always)
    static func gatherFour(
        _ features: [[Float]], from first: Int, into block: UnsafeMutablePointer<Float>, dimension: Int
    )
        -> Int
    {
        let valid = min(4, features.count - first)
        for point in 0..<4 {
            let target = block + point * dimension
            guard point < valid else {
                target.update(repeating: 0, count: dimension)
                continue
            }
            features[first + point].withUnsafeBufferPointer { x in
                guard let base = x.baseAddress else { return }
                target.update(from: base, count: min(dimension, x.count))
            }
        }
        return valid
    }

    /// The dot products of four consecutive rows of `dimension` (at `block`) with `vector`.
    @inline(__always)
    static func dotFour(_ block: UnsafePointer<Float>, _ vector: UnsafePointer<Float>, count: Int) -> SIMD4<Float> {
        let rows = UnsafeRawPointer(block)
        let v = UnsafeRawPointer(vector)
        let stride = count * 4
        var s0 = SIMD8<Float>()
        var s1 = SIMD8<Float>()
        var s2 = SIMD8<Float>()
        var s3 = SIMD8<Float>()
        var index = 0
        while index + 8 <= count {
            let offset = index * 4
            let values = v.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            s0 += values * rows.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            s1 += values * rows.loadUnaligned(fromByteOffset: stride + offset, as: SIMD8<Float>.self)
            s2 += values * rows.loadUnaligned(fromByteOffset: 2 * stride + offset, as: SIMD8<Float>.self)
            s3 += values * rows.loadUnaligned(fromByteOffset: 3 * stride + offset, as: SIMD8<Float>.self)
            index += 8
        }
        var dots = SIMD4(s0.sum(), s1.sum(), s2.sum(), s3.sum())
        while index < count {
            for row in 0..<4 { dots[row] += block[row * count + index] * vector[index] }
            index += 1
        }
        return dots
    }

    /// target += Σ scales[r] × row r, over four consecutive rows of `count` at `block`.
    @inline(__always)
    static func addScaledFour(
        _ block: UnsafePointer<Float>, _ scales: SIMD4<Float>, to target: UnsafeMutablePointer<Float>, count: Int
    ) {
        let rows = UnsafeRawPointer(block)
        let out = UnsafeMutableRawPointer(target)
        let stride = count * 4
        let (f0, f1) = (SIMD8(repeating: scales[0]), SIMD8(repeating: scales[1]))
        let (f2, f3) = (SIMD8(repeating: scales[2]), SIMD8(repeating: scales[3]))
        var index = 0
        while index + 8 <= count {
            let offset = index * 4
            var sum = out.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            sum += f0 * rows.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            sum += f1 * rows.loadUnaligned(fromByteOffset: stride + offset, as: SIMD8<Float>.self)
            sum += f2 * rows.loadUnaligned(fromByteOffset: 2 * stride + offset, as: SIMD8<Float>.self)
            sum += f3 * rows.loadUnaligned(fromByteOffset: 3 * stride + offset, as: SIMD8<Float>.self)
            out.storeBytes(of: sum, toByteOffset: offset, as: SIMD8<Float>.self)
            index += 8
        }
        while index < count {
            for row in 0..<4 { target[index] += scales[row] * block[row * count + index] }
            index += 1
        }
    }

    /// target += scale × x, eight lanes at a time.
    @inline(__always)
    static func addScaled(
        _ x: UnsafePointer<Float>, _ scale: Float, to target: UnsafeMutablePointer<Float>, count: Int
    ) {
        let rawX = UnsafeRawPointer(x)
        let rawTarget = UnsafeMutableRawPointer(target)
        let factor = SIMD8<Float>(repeating: scale)
        var index = 0
        while index + 8 <= count {
            let sum =
                rawTarget.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
                + factor * rawX.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
            rawTarget.storeBytes(of: sum, toByteOffset: index * 4, as: SIMD8<Float>.self)
            index += 8
        }
        while index < count {
            target[index] += scale * x[index]
            index += 1
        }
    }

    static func transposed(_ matrix: [Float], rows: Int, columns: Int) -> [Float] {
        var out = [Float](repeating: 0, count: matrix.count)
        for row in 0..<rows {
            for column in 0..<columns { out[column * rows + row] = matrix[row * columns + column] }
        }
        return out
    }

    /// Modified Gram–Schmidt on the rows, twice over ("twice is enough" for Float). A row
    /// that loses nearly all its length to the earlier ones (the data has fewer directions
    /// than the sketch: few points, or identical ones) becomes zero rather than noise scaled up.
    static func orthonormaliseRows(_ matrix: inout [Float], count: Int, length: Int) {
        matrix.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for row in 0..<count {
                let vector = base + row * length
                let original = VectorMath.dot(vector, vector, count: length).squareRoot()
                for _ in 0..<2 {
                    for earlier in 0..<row {
                        let other = base + earlier * length
                        let projection = VectorMath.dot(vector, other, count: length)
                        if projection != 0 { addScaled(other, -projection, to: vector, count: length) }
                    }
                }
                let norm = VectorMath.dot(vector, vector, count: length).squareRoot()
                if original > 0, norm > 1e-4 * original, norm.isFinite {
                    let scale = 1 / norm
                    for index in 0..<length { vector[index] *= scale }
                } else {
                    vector.update(repeating: 0, count: length)
                }
            }
        }
    }

    /// Eigenvalues (descending) and eigenvectors (columns, row-major size × size) of a small
    /// symmetric matrix by cyclic Jacobi rotations; 60 × 60 converges in under ten sweeps.
    static func symmetricEigen(_ matrix: [Double], size: Int) -> (values: [Double], vectors: [Double]) {
        var a = matrix
        var v = [Double](repeating: 0, count: size * size)
        for index in 0..<size { v[index * size + index] = 1 }
        var scale = 0.0
        for value in a { scale += value * value }
        for _ in 0..<60 {
            var off = 0.0
            for p in 0..<size {
                for q in (p + 1)..<max(size, p + 1) { off += a[p * size + q] * a[p * size + q] }
            }
            if off <= 1e-28 * scale || off == 0 { break }
            for p in 0..<max(size - 1, 0) {
                for q in (p + 1)..<size {
                    let apq = a[p * size + q]
                    if apq == 0 { continue }
                    let theta = (a[q * size + q] - a[p * size + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot()
                    let s = t * c
                    for k in 0..<size {
                        let (akp, akq) = (a[k * size + p], a[k * size + q])
                        a[k * size + p] = c * akp - s * akq
                        a[k * size + q] = s * akp + c * akq
                    }
                    for k in 0..<size {
                        let (apk, aqk) = (a[p * size + k], a[q * size + k])
                        a[p * size + k] = c * apk - s * aqk
                        a[q * size + k] = s * apk + c * aqk
                    }
                    for k in 0..<size {
                        let (vkp, vkq) = (v[k * size + p], v[k * size + q])
                        v[k * size + p] = c * vkp - s * vkq
                        v[k * size + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<size).sorted { a[$0 * size + $0] > a[$1 * size + $1] }
        var vectors = [Double](repeating: 0, count: size * size)
        for (column, source) in order.enumerated() {
            for row in 0..<size { vectors[row * size + column] = v[row * size + source] }
        }
        return (order.map { a[$0 * size + $0] }, vectors)
    }
}

// MARK: - Nearest neighbours

extension MapLayout {
    /// Each point's `neighbours` nearest others (itself excluded), nearest first: indexes and
    /// Euclidean distances, count × neighbours each.
    struct Neighbours {
        var indices: [Int32]
        var distances: [Float]
    }

    /// Points per tile of the neighbour search: 256 × 50 dimensions is 50 KB, so a pair of
    /// tiles stays in a core's cache while every pair of their points is measured.
    static let searchTile = 256

    /// Exact neighbours by brute force, arranged as a blocked matrix product. The points are
    /// packed eight to a block, dimension by dimension, so one SIMD8 load serves four query
    /// points at once. Each pair of tiles is measured once and the squared distances offered
    /// both ways (row point to column point and back), which halves the n² × 50 work; each
    /// thread keeps its own best lists for every point (any point can be offered to on any
    /// thread) and the lists are merged at the end.
    static func nearestNeighbours(
        _ points: [Float], count: Int, dimension: Int, neighbours: Int, threads: Int,
        checkpoint: () throws -> Void, progress: (Double) -> Void
    ) throws -> Neighbours {
        let tile = searchTile
        let tiles = (count + tile - 1) / tile
        let padded = tiles * tile
        var packed = [Float](repeating: 0, count: padded * dimension)
        // Padding points sit very far away but at a finite distance, so differences of
        // distances stay numbers; they are never offered anything and never outrank a real point.
        var norms = [Float](repeating: 1e30, count: padded)
        for point in 0..<count {
            let (block, lane) = (point / 8, point % 8)
            var norm: Float = 0
            for index in 0..<dimension {
                let value = points[point * dimension + index]
                packed[(block * dimension + index) * 8 + lane] = value
                norm += value * value
            }
            norms[point] = norm
        }
        var pairs: [(rows: Int32, columns: Int32)] = []
        pairs.reserveCapacity(tiles * (tiles + 1) / 2)
        for rows in 0..<tiles {
            for columns in rows..<tiles { pairs.append((Int32(rows), Int32(columns))) }
        }
        let tilePairs = pairs
        let parts = max(1, min(threads, pairs.count))
        let listLength = count * neighbours
        var scores = [Float](repeating: .greatestFiniteMagnitude, count: parts * listLength)
        var found = [Int32](repeating: -1, count: parts * listLength)
        // Each point's current k-th best score per thread; −1 on padding, which takes nothing.
        var worst = [Float](repeating: .greatestFiniteMagnitude, count: parts * padded)
        for part in 0..<parts {
            for pad in count..<padded { worst[part * padded + pad] = -1 }
        }
        // Chunks of tile pairs, so progress and cancellation are heard every few per cent.
        let chunks = min(pairs.count, 25)
        try points.withUnsafeBufferPointer { pointBuffer in
            try packed.withUnsafeBufferPointer { packedBuffer in
                try norms.withUnsafeBufferPointer { normBuffer in
                    try scores.withUnsafeMutableBufferPointer { scoreBuffer in
                        try found.withUnsafeMutableBufferPointer { foundBuffer in
                            try worst.withUnsafeMutableBufferPointer { worstBuffer in
                                guard let pointBase = pointBuffer.baseAddress,
                                    let packedBase = packedBuffer.baseAddress,
                                    let normBase = normBuffer.baseAddress, let scoreBase = scoreBuffer.baseAddress,
                                    let foundBase = foundBuffer.baseAddress, let worstBase = worstBuffer.baseAddress
                                else { return }
                                let search = SearchState(
                                    points: pointBase, packed: packedBase, norms: normBase, scores: scoreBase,
                                    found: foundBase, worst: worstBase, count: count, padded: padded,
                                    dimension: dimension, neighbours: neighbours)
                                for chunk in 0..<chunks {
                                    try checkpoint()
                                    let first = chunk * pairs.count / chunks
                                    let last = (chunk + 1) * pairs.count / chunks
                                    inParallel(parts) { part in
                                        for index in stride(from: first + part, to: last, by: parts) {
                                            search.measure(
                                                rows: Int(tilePairs[index].rows) * tile,
                                                columns: Int(tilePairs[index].columns) * tile, part: part)
                                        }
                                    }
                                    progress(Double(chunk + 1) / Double(chunks))
                                }
                            }
                        }
                    }
                }
            }
        }
        return mergedNeighbours(scores: scores, found: found, parts: parts, count: count, neighbours: neighbours)
    }

    /// The best `neighbours` of each point over every thread's list (each pair of points was
    /// measured on one thread only, so the lists never repeat a neighbour).
    static func mergedNeighbours(scores: [Float], found: [Int32], parts: Int, count: Int, neighbours: Int)
        -> Neighbours
    {
        var indices = [Int32](repeating: 0, count: count * neighbours)
        var distances = [Float](repeating: 0, count: count * neighbours)
        let listLength = count * neighbours
        var cursors = [Int](repeating: 0, count: parts)
        for point in 0..<count {
            for part in 0..<parts { cursors[part] = 0 }
            for rank in 0..<neighbours {
                var bestPart = -1
                var bestScore = Float.infinity
                for part in 0..<parts where cursors[part] < neighbours {
                    let position = part * listLength + point * neighbours + cursors[part]
                    let index = Int(found[position])
                    if index >= 0, index < count, scores[position] < bestScore {
                        (bestPart, bestScore) = (part, scores[position])
                    }
                }
                let output = point * neighbours + rank
                guard bestPart >= 0 else {
                    // Unreachable with neighbours < count; a point as its own neighbour is harmless.
                    (indices[output], distances[output]) = (Int32(point), 0)
                    continue
                }
                indices[output] = found[bestPart * listLength + point * neighbours + cursors[bestPart]]
                distances[output] = max(bestScore, 0).squareRoot()
                cursors[bestPart] += 1
            }
        }
        return Neighbours(indices: indices, distances: distances)
    }

    /// The search's buffers, shared by its threads: they read the points, and each writes
    /// only its own part of `scores`, `found` and `worst`.
    struct SearchState: @unchecked Sendable {
        let points: UnsafePointer<Float>
        let packed: UnsafePointer<Float>
        let norms: UnsafePointer<Float>
        let scores: UnsafeMutablePointer<Float>
        let found: UnsafeMutablePointer<Int32>
        let worst: UnsafeMutablePointer<Float>
        let count: Int
        let padded: Int
        let dimension: Int
        let neighbours: Int

        /// Every pair between two tiles, four row points against a block of eight column
        /// points at a time. A tile against itself is offered one way only: its pairs come
        /// round in both orders.
        func measure(rows rowStart: Int, columns columnStart: Int, part: Int) {
            let rowEnd = min(rowStart + MapLayout.searchTile, count)
            guard rowStart < rowEnd else { return }
            let both = rowStart != columnStart
            let packedBytes = UnsafeRawPointer(packed)
            let normBytes = UnsafeRawPointer(norms)
            let worstBytes = UnsafeRawPointer(worst + part * padded)
            let blockBytes = dimension * 8 * 4
            let firstBlock = columnStart / 8
            let lastBlock = (columnStart + MapLayout.searchTile) / 8
            for group in stride(from: rowStart, to: rowEnd, by: 4) {
                // A short last group repeats its last point; the repeats are not offered.
                let valid = min(4, rowEnd - group)
                let last = group + valid - 1
                let q0 = points + group * dimension
                let q1 = points + min(group + 1, last) * dimension
                let q2 = points + min(group + 2, last) * dimension
                let q3 = points + min(group + 3, last) * dimension
                let n0 = norms[group]
                let n1 = norms[min(group + 1, last)]
                let n2 = norms[min(group + 2, last)]
                let n3 = norms[min(group + 3, last)]
                for block in firstBlock..<lastBlock {
                    let base = packedBytes + block * blockBytes
                    var s0 = SIMD8<Float>()
                    var s1 = SIMD8<Float>()
                    var s2 = SIMD8<Float>()
                    var s3 = SIMD8<Float>()
                    for index in 0..<dimension {
                        let candidates = base.loadUnaligned(fromByteOffset: index * 32, as: SIMD8<Float>.self)
                        s0 += candidates * SIMD8(repeating: q0[index])
                        s1 += candidates * SIMD8(repeating: q1[index])
                        s2 += candidates * SIMD8(repeating: q2[index])
                        s3 += candidates * SIMD8(repeating: q3[index])
                    }
                    let columnNorms = normBytes.loadUnaligned(fromByteOffset: block * 32, as: SIMD8<Float>.self)
                    // Squared distances |q|² + |c|² − 2 q·c, the same number seen from either end.
                    let d0 = columnNorms - 2 * s0 + SIMD8(repeating: n0)
                    let d1 = columnNorms - 2 * s1 + SIMD8(repeating: n1)
                    let d2 = columnNorms - 2 * s2 + SIMD8(repeating: n2)
                    let d3 = columnNorms - 2 * s3 + SIMD8(repeating: n3)
                    offerRow(d0, block: block, point: group, part: part)
                    if valid > 1 { offerRow(d1, block: block, point: group + 1, part: part) }
                    if valid > 2 { offerRow(d2, block: block, point: group + 2, part: part) }
                    if valid > 3 { offerRow(d3, block: block, point: group + 3, part: part) }
                    guard both else { continue }
                    // The other way: is any of the four nearer to a column point than its k-th best?
                    var nearest = d0
                    if valid > 1 { nearest = pointwiseMin(nearest, d1) }
                    if valid > 2 { nearest = pointwiseMin(nearest, d2) }
                    if valid > 3 { nearest = pointwiseMin(nearest, d3) }
                    let columnWorst = worstBytes.loadUnaligned(fromByteOffset: block * 32, as: SIMD8<Float>.self)
                    guard MapLayout.smallest(nearest - columnWorst) < 0 else { continue }
                    for lane in 0..<8 where nearest[lane] < columnWorst[lane] {
                        let column = block * 8 + lane
                        let rows = SIMD4(d0[lane], d1[lane], d2[lane], d3[lane])
                        for row in 0..<valid { offer(rows[row], index: group + row, to: column, part: part) }
                    }
                }
            }
        }

        /// A block's eight distances offered to one row point; most blocks are turned away by
        /// their smallest once the point's best have settled.
        @inline(__always)
        func offerRow(_ distances: SIMD8<Float>, block: Int, point: Int, part: Int) {
            let threshold = worst[part * padded + point]
            guard MapLayout.smallest(distances) < threshold else { return }
            for lane in 0..<8 where distances[lane] < worst[part * padded + point] {
                let column = block * 8 + lane
                if column != point { offer(distances[lane], index: column, to: point, part: part) }
            }
        }

        /// Inserts a neighbour into `point`'s sorted list on this thread.
        @inline(__always)
        func offer(_ score: Float, index: Int, to point: Int, part: Int) {
            let limit = part * padded + point
            guard score < worst[limit] else { return }
            let list = part * count * neighbours + point * neighbours
            var position = neighbours - 1
            while position > 0, scores[list + position - 1] > score {
                scores[list + position] = scores[list + position - 1]
                found[list + position] = found[list + position - 1]
                position -= 1
            }
            scores[list + position] = score
            found[list + position] = Int32(truncatingIfNeeded: index)
            worst[limit] = scores[list + neighbours - 1]
        }
    }

    /// The smallest lane, by halving (`any(a .< b)` and `min()` compile to lane-by-lane loops).
    @inline(__always)
    static func smallest(_ values: SIMD8<Float>) -> Float {
        let quarter = pointwiseMin(values.lowHalf, values.highHalf)
        let pair = pointwiseMin(quarter.lowHalf, quarter.highHalf)
        return min(pair.x, pair.y)
    }
}

extension MapLayout {
    /// The `capacity` smallest scores offered, kept sorted (insertion: capacity is 15–20).
    struct TopK {
        private(set) var scores: [Float]
        private(set) var indices: [Int]
        let capacity: Int

        init(capacity: Int) {
            self.capacity = max(capacity, 1)
            scores = [Float](repeating: .infinity, count: self.capacity)
            indices = [Int](repeating: -1, count: self.capacity)
        }

        var worst: Float { scores[capacity - 1] }

        mutating func reset() {
            for index in 0..<capacity {
                scores[index] = .infinity
                indices[index] = -1
            }
        }

        @inline(__always)
        mutating func offer(_ score: Float, index: Int) {
            guard score < scores[capacity - 1] else { return }
            var position = capacity - 1
            while position > 0, scores[position - 1] > score {
                scores[position] = scores[position - 1]
                indices[position] = indices[position - 1]
                position -= 1
            }
            scores[position] = score
            indices[position] = index
        }
    }
}

// MARK: - The fuzzy graph

extension MapLayout {
    /// The graph's edges, each undirected edge stored in both directions (the descent moves
    /// both ends, from each end in turn, as UMAP's does).
    struct Graph {
        var heads: [Int32]
        var tails: [Int32]
        var weights: [Float]
    }

    /// UMAP's fuzzy simplicial set. Each point's memberships are exp(−(d − ρ)/σ), ρ the
    /// distance to its nearest neighbour (so every point is fully connected to at least one
    /// other) and σ chosen by bisection so they sum to log2(k): every point gets the same
    /// total say whatever its local density. The two directions are joined by the fuzzy union
    /// p + q − p·q, and edges too weak to be sampled once in `epochs` are dropped.
    static func fuzzyGraph(indices: [Int32], distances: [Float], count: Int, neighbours k: Int, epochs: Int)
        -> Graph
    {
        let target = Foundation.log2(Double(k))
        var meanDistance = 0.0
        for distance in distances { meanDistance += Double(distance) }
        meanDistance /= Double(max(distances.count, 1))
        var memberships = [Float](repeating: 0, count: count * k)
        for point in 0..<count {
            let row = (point * k)..<((point + 1) * k)
            let rho = Double(distances[row].first { $0 > 0 } ?? 0)
            var (low, high, sigma) = (0.0, Double.infinity, 1.0)
            // 64 halvings reach Double's resolution; UMAP stops at a 1e-5 error.
            for _ in 0..<64 {
                var sum = 0.0
                for position in row {
                    let excess = Double(distances[position]) - rho
                    sum += excess > 0 ? Foundation.exp(-excess / sigma) : 1
                }
                if abs(sum - target) < 1e-5 { break }
                if sum > target {
                    high = sigma
                    sigma = (low + high) / 2
                } else {
                    low = sigma
                    sigma = high.isInfinite ? sigma * 2 : (low + high) / 2
                }
            }
            // UMAP's floor: σ at least a thousandth of the typical distance, so a point whose
            // neighbours are all equally far does not get a step function.
            var localMean = 0.0
            for position in row { localMean += Double(distances[position]) }
            localMean /= Double(k)
            sigma = max(sigma, 1e-3 * (rho > 0 ? localMean : meanDistance))
            for position in row {
                let excess = Double(distances[position]) - rho
                memberships[position] = excess > 0 && sigma > 0 ? Float(Foundation.exp(-excess / sigma)) : 1
            }
        }

        var heads: [Int32] = []
        var tails: [Int32] = []
        var weights: [Float] = []
        heads.reserveCapacity(2 * count * k)
        tails.reserveCapacity(2 * count * k)
        weights.reserveCapacity(2 * count * k)
        for point in 0..<count {
            for slot in 0..<k {
                let other = Int(indices[point * k + slot])
                let forward = memberships[point * k + slot]
                var backward: Float = 0
                var mutual = false
                for otherSlot in 0..<k where Int(indices[other * k + otherSlot]) == point {
                    backward = memberships[other * k + otherSlot]
                    mutual = true
                }
                // A mutual pair is emitted once, by its lower-numbered end.
                if mutual && other < point { continue }
                let weight = forward + backward - forward * backward
                heads.append(Int32(point))
                tails.append(Int32(other))
                weights.append(weight)
                heads.append(Int32(other))
                tails.append(Int32(point))
                weights.append(weight)
            }
        }
        let strongest = weights.max() ?? 0
        let floor = strongest / Float(max(epochs, 1))
        var kept = Graph(heads: [], tails: [], weights: [])
        for edge in weights.indices where weights[edge] >= floor && weights[edge] > 0 {
            kept.heads.append(heads[edge])
            kept.tails.append(tails[edge])
            kept.weights.append(weights[edge])
        }
        return kept
    }
}

// MARK: - The descent

extension MapLayout {
    /// The first two principal components, scaled so the farthest point is 10 from the
    /// centre (UMAP's scale, where its curve's distances mean something), plus a little seeded
    /// jitter so identical photos do not start on one spot, where no gradient separates them.
    static func initialLayout(_ projection: Projection, count: Int, seed: UInt64) -> [Float] {
        var embedding = [Float](repeating: 0, count: 2 * count)
        var largest: Float = 0
        for point in 0..<count {
            for axis in 0..<min(2, projection.components) {
                let value = projection.values[point * projection.components + axis]
                embedding[2 * point + axis] = value
                largest = max(largest, abs(value))
            }
        }
        // Below 1e-30 the spread is rounding, not data (identical photos): the jitter alone.
        let scale: Float = largest > 1e-30 ? 10 / largest : 0
        var rng = SplitMix(seed: seed ^ 0x4A49_5454)
        for index in embedding.indices {
            embedding[index] = embedding[index] * scale + Float.random(in: -1e-3...1e-3, using: &rng)
        }
        return embedding
    }

    /// UMAP's stochastic gradient descent. Each epoch samples each edge in proportion to its
    /// weight (the strongest every epoch), pulls its two ends together along the curve's
    /// attraction and pushes its head away from `negativeSamples` random points; the step
    /// shrinks linearly to zero and each gradient component is clipped to ±4, as in UMAP.
    /// One difference: the pushes are all measured from where the head stands after the pull
    /// and applied together, rather than one after another. They are independent then, so the
    /// processor overlaps their random memory reads and arithmetic; each push is small (at most
    /// 4 × the step), so the order does not show in the layout.
    static func optimise(
        _ embedding: inout [Float], graph: Graph, count: Int, epochs: Int, a: Float, b: Float,
        negativeSamples: Int, seed: UInt64, checkpoint: () throws -> Void, progress: (Double) -> Void
    ) throws {
        guard let strongest = graph.weights.max(), strongest > 0 else { return }
        let interval = graph.weights.map { strongest / $0 }
        var due = interval
        var rng = SplitMix(seed: seed ^ 0x5347_4400)
        let edges = graph.weights.count
        let twoAB = 2 * a * b
        let twoB = 2 * b
        try embedding.withUnsafeMutableBufferPointer { buffer in
            try due.withUnsafeMutableBufferPointer { dueBuffer in
                guard let y = buffer.baseAddress, let next = dueBuffer.baseAddress else { return }
                for epoch in 0..<epochs {
                    try checkpoint()
                    let rate = Float(1 - Double(epoch) / Double(epochs))
                    let now = Float(epoch + 1)
                    for edge in 0..<edges where next[edge] <= now {
                        next[edge] += interval[edge]
                        let head = Int(graph.heads[edge])
                        let tail = Int(graph.tails[edge])
                        let dx = y[2 * head] - y[2 * tail]
                        let dy = y[2 * head + 1] - y[2 * tail + 1]
                        let squared = dx * dx + dy * dy
                        if squared > 0 {
                            // d^(2b) and d^(2(b−1)) from one power.
                            let power = Self.power(squared, b)
                            let coefficient = -twoAB * (power / squared) / (a * power + 1)
                            let gx = clip(coefficient * dx) * rate
                            let gy = clip(coefficient * dy) * rate
                            y[2 * head] += gx
                            y[2 * head + 1] += gy
                            y[2 * tail] -= gx
                            y[2 * tail + 1] -= gy
                        }
                        let (hx, hy) = (y[2 * head], y[2 * head + 1])
                        var (pushX, pushY): (Float, Float) = (0, 0)
                        for _ in 0..<negativeSamples {
                            // A uniform index without division: the top 32 bits times count, shifted.
                            let other = Int((rng.next() >> 32) &* UInt64(count) >> 32)
                            if other == head { continue }
                            let ox = hx - y[2 * other]
                            let oy = hy - y[2 * other + 1]
                            let apart = ox * ox + oy * oy
                            guard apart > 0 else {
                                // Coincident points: UMAP's fixed push.
                                pushX += 4
                                pushY += 4
                                continue
                            }
                            let coefficient = twoB / ((0.001 + apart) * (a * Self.power(apart, b) + 1))
                            pushX += clip(coefficient * ox)
                            pushY += clip(coefficient * oy)
                        }
                        y[2 * head] += pushX * rate
                        y[2 * head + 1] += pushY * rate
                    }
                    progress(Double(epoch + 1) / Double(epochs))
                }
            }
        }
    }

    /// x^p for x > 0, to about 1e-6 relative, as 2^(p·log2 x) from two short series: glibc's
    /// `powf` was nearly half of the descent's time in a profile, and the descent needs
    /// nowhere near its accuracy.
    @inline(__always)
    static func power(_ x: Float, _ p: Float) -> Float {
        // Below the normal range the exponent bits do not give log2; rare enough for powf.
        guard x >= Float.leastNormalMagnitude, x.isFinite else { return Foundation.pow(x, p) }
        let bits = x.bitPattern
        var exponent = Float(Int32((bits >> 23) & 0xFF) - 127)
        var mantissa = Float(bitPattern: (bits & 0x007F_FFFF) | 0x3F80_0000)
        // The mantissa into [√½, √2), so the series below converges fast.
        if mantissa > 1.414_213_6 {
            mantissa *= 0.5
            exponent += 1
        }
        // ln m = 2·atanh(s) = 2(s + s³/3 + s⁵/5 + s⁷/7 + …) with s = (m − 1)/(m + 1), |s| ≤ 0.172.
        let s = (mantissa - 1) / (mantissa + 1)
        let s2 = s * s
        let lnMantissa = 2 * s * (1 + s2 * (1 / 3 + s2 * (1 / 5 + s2 * (1 / 7))))
        let log2x = exponent + lnMantissa * 1.442_695_0
        let y = min(max(p * log2x, -126), 126)
        let whole = y.rounded()
        // 2^f = e^(f·ln 2) for |f| ≤ ½ by its Taylor series to the sixth power.
        let t = (y - whole) * 0.693_147_2
        let fraction = 1 + t * (1 + t * (1 / 2 + t * (1 / 6 + t * (1 / 24 + t * (1 / 120 + t * (1 / 720))))))
        return fraction * Float(bitPattern: UInt32(Int32(whole) + 127) << 23)
    }

    @inline(__always)
    static func clip(_ value: Float) -> Float { min(max(value, -4), 4) }

    /// Scaled uniformly so the longer side spans 0…1, the shorter centred.
    static func unitSquare(_ embedding: [Float], count: Int) -> [SIMD2<Float>] {
        var low = SIMD2<Float>(repeating: .infinity)
        var high = SIMD2<Float>(repeating: -.infinity)
        for point in 0..<count {
            let value = SIMD2(embedding[2 * point], embedding[2 * point + 1])
            low = pointwiseMin(low, value)
            high = pointwiseMax(high, value)
        }
        let span = high - low
        let longest = max(span.x, span.y)
        guard longest > 0, longest.isFinite else { return Array(repeating: SIMD2(0.5, 0.5), count: count) }
        let margin = (SIMD2(repeating: longest) - span) / (2 * longest)
        return (0..<count).map { point in
            (SIMD2(embedding[2 * point], embedding[2 * point + 1]) - low) / longest + margin
        }
    }
}

// MARK: - Threads

/// Runs `body(part)` for each part on its own thread (inline when there is one part).
private func inParallel(_ parts: Int, _ body: @Sendable (Int) -> Void) {
    if parts <= 1 {
        body(0)
    } else {
        DispatchQueue.concurrentPerform(iterations: parts) { body($0) }
    }
}

/// A pointer handed to `inParallel`'s threads, each writing only its own positions.
private struct SharedPointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
