import IrisML
import Testing

/// The map layout on small made-up embeddings whose structure is known.
@Suite struct MapLayoutTests {
    /// `perCluster` L2-normalised points around each of `clusters` random centres in
    /// `dimension` dimensions, with the cluster of each.
    static func clusters(_ clusters: Int, perCluster: Int, dimension: Int, noise: Float, seed: UInt64) -> (
        features: [[Float]], labels: [Int]
    ) {
        var rng = SplitMix(seed: seed)
        let centres = (0..<clusters).map { _ in (0..<dimension).map { _ in Float.random(in: -1...1, using: &rng) } }
        var features: [[Float]] = []
        var labels: [Int] = []
        for point in 0..<(clusters * perCluster) {
            let label = point % clusters
            let raw = centres[label].map { $0 + Float.random(in: -noise...noise, using: &rng) }
            let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
            features.append(raw.map { $0 / norm })
            labels.append(label)
        }
        return (features, labels)
    }

    /// The share of points whose nearest other point in the layout has their label.
    static func nearestSameLabel(_ layout: [SIMD2<Float>], labels: [Int]) -> Double {
        var same = 0
        for point in layout.indices {
            var nearest = -1
            var best = Float.infinity
            for other in layout.indices where other != point {
                let delta = layout[other] - layout[point]
                let distance = (delta * delta).sum()
                if distance < best { (best, nearest) = (distance, other) }
            }
            if nearest >= 0, labels[nearest] == labels[point] { same += 1 }
        }
        return Double(same) / Double(layout.count)
    }

    @Test("three well-separated clusters stay apart in the layout, inside the unit square")
    func clustersStayApart() throws {
        // setup
        let data = Self.clusters(3, perCluster: 40, dimension: 32, noise: 0.3, seed: 1)
        // act
        var heard: [Double] = []
        let layout = try MapLayout.layout(data.features, options: .init(epochs: 100), progress: { heard.append($0) })
        // check
        #expect(layout.count == data.features.count)
        #expect(layout.allSatisfy { $0.x >= 0 && $0.x <= 1 && $0.y >= 0 && $0.y <= 1 })
        #expect(Self.nearestSameLabel(layout, labels: data.labels) >= 0.95)
        #expect(heard.last == 1 && zip(heard, heard.dropFirst()).allSatisfy { $0 <= $1 })
    }

    @Test("the layout keeps more of each point's neighbours than the 2-D PCA picture")
    func betterThanPCA() throws {
        // setup: eight clusters in 24 dimensions, more than two principal components can show
        let data = Self.clusters(8, perCluster: 20, dimension: 24, noise: 0.5, seed: 2)
        // act
        let layout = try MapLayout.layout(data.features, options: .init(epochs: 100))
        let pca = MapLayout.pca(data.features, dimensions: 2, seed: 2).map { SIMD2($0[0], $0[1]) }
        // check
        let kept = MapLayout.neighbourPreservation(original: data.features, layout: layout)
        let keptByPCA = MapLayout.neighbourPreservation(original: data.features, layout: pca)
        #expect(kept > keptByPCA, "layout \(kept), PCA \(keptByPCA)")
        #expect(Self.nearestSameLabel(layout, labels: data.labels) > Self.nearestSameLabel(pca, labels: data.labels))
    }

    @Test("no points, one, two, and identical points give finite layouts; a cancelled layout throws")
    func edgeCases() throws {
        #expect(try MapLayout.layout([]).isEmpty)
        #expect(try MapLayout.layout([[0.6, 0.8]]) == [SIMD2(0.5, 0.5)])
        let two = try MapLayout.layout([[1, 0, 0], [0, 1, 0]])
        #expect(two.count == 2 && two.allSatisfy { $0.x.isFinite && $0.y.isFinite } && two[0] != two[1])
        let same = try MapLayout.layout(Array(repeating: [0.6, 0.8, 0], count: 30))
        #expect(same.count == 30 && same.allSatisfy { $0.x.isFinite && $0.y.isFinite })
        #expect(throws: (any Error).self) { try MapLayout.layout([[1, 0], [0, 1, 0]]) }
        #expect(throws: CancellationError.self) {
            try MapLayout.layout(Self.clusters(2, perCluster: 10, dimension: 8, noise: 0.1, seed: 3).features) {
                _ in
            } isCancelled: {
                true
            }
        }
    }

    @Test("the curve fitted for a minimum distance of 0.1 is UMAP's (a ≈ 1.577, b ≈ 0.895)")
    func curveFit() {
        let curve = MapLayout.curve(minDistance: 0.1)
        #expect(abs(curve.a - 1.577) < 0.01 && abs(curve.b - 0.895) < 0.01, "\(curve)")
    }
}
