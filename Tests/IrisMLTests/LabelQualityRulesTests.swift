import IrisML
import Testing

/// The label check's rules on small made-up embeddings whose answer is known: the wrong label
/// found (`LabelCheck`), the uncovered kind labelled next (`LabelNext`), and the learning curve
/// small classes are measured against (`LearningCurve`).
@Suite struct LabelQualityRulesTests {
    // setup shared: clusters as the map's tests make them
    static func clusters(_ count: Int, perCluster: Int, dimension: Int, noise: Float, seed: UInt64) -> (
        features: [[Float]], labels: [Int]
    ) {
        MapLayoutTests.clusters(count, perCluster: perCluster, dimension: dimension, noise: noise, seed: seed)
    }

    @Test("the check puts the flipped labels first, each likely wrong with its true class suggested")
    func flippedFirst() throws {
        // setup: 4 tight clusters of 20; three photos given the next cluster's label
        let (features, truth) = Self.clusters(4, perCluster: 20, dimension: 16, noise: 0.2, seed: 3)
        var labels = truth
        let flipped = [5, 22, 47]
        for index in flipped { labels[index] = (truth[index] + 1) % 4 }

        // act
        let result = try LabelCheck.check(features: features, labels: labels.map { [$0] }, classCount: 4)

        // check
        let top = result.ranked.prefix(3)
        #expect(Set(top.map(\.index)) == Set(flipped))
        #expect(top.allSatisfy { $0.likely && $0.suggested == truth[$0.index] && $0.score < 1 })
        #expect(result.ranked.count == features.count && result.thresholds.count == 4)
    }

    @Test("the check reports its progress every 256 photos, rising from 0 and below 1")
    func checkProgress() throws {
        // setup
        let (features, labels) = Self.clusters(3, perCluster: 200, dimension: 8, noise: 0.3, seed: 5)
        var seen: [Double] = []

        // act
        _ = try LabelCheck.check(
            features: features, labels: labels.map { [$0] }, classCount: 3, progress: { seen.append($0) })

        // check: 600 photos, so at 0, 256 and 512
        #expect(seen == [0, 256.0 / 600, 512.0 / 600])
    }

    @Test("label next asks first for the kind no labelled photo covers")
    func uncoveredFirst() {
        // setup: labelled photos of clusters 0 and 1 only; candidates from all three
        let (features, labels) = Self.clusters(3, perCluster: 10, dimension: 16, noise: 0.2, seed: 9)
        let labelled = features.indices.filter { labels[$0] < 2 && $0 < 20 }.map { features[$0] }
        let candidates = Array(features.indices.filter { !(labels[$0] < 2 && $0 < 20) })

        // act
        let order = LabelNext.order(
            candidates: candidates.map { features[$0] },
            uncertainty: candidates.map { _ in 0.5 }, labelled: labelled, picks: 3, seed: 1)

        // check: the first pick is a photo of the uncovered cluster 2, and every candidate once
        #expect(labels[candidates[order[0]]] == 2)
        #expect(order.sorted() == Array(candidates.indices))
    }

    @Test("the learning curve rises with photos per class and levels off where the rule says")
    func learningCurve() throws {
        // setup: 5 noisy clusters of 40 photos
        let (features, labels) = Self.clusters(5, perCluster: 40, dimension: 32, noise: 1.5, seed: 11)

        // act
        let curve = try #require(try LearningCurve.measure(features: features, labels: labels, seed: 2))
        let again = try LearningCurve.measure(features: features, labels: labels, seed: 2)

        // check: every size, seeded, better with 20 photos than with 1
        #expect(curve.map(\.photos) == LearningCurve.sizes)
        #expect(again == curve)
        #expect(curve.allSatisfy { (0...1).contains($0.accuracy) })
        let (first, last) = (try #require(curve.first), try #require(curve.last))
        #expect(last.accuracy > first.accuracy)
        let enough = try #require(LearningCurve.enough(curve))
        let best = curve.map(\.accuracy).max() ?? 0
        #expect(curve.first { $0.photos == enough }.map { $0.accuracy >= best - LearningCurve.tolerance } == true)
        #expect(curve.filter { $0.photos < enough }.allSatisfy { $0.accuracy < best - LearningCurve.tolerance })
    }

    @Test("no curve from fewer than three classes with 24 photos; the rule on a known curve")
    func curveRule() throws {
        // setup: two classes of 30, three of 23
        let (features, labels) = Self.clusters(5, perCluster: 30, dimension: 8, noise: 0.5, seed: 13)
        let kept = features.indices.filter { labels[$0] < 2 || $0 < 5 * 23 }

        // act, check
        #expect(
            try LearningCurve.measure(features: kept.map { features[$0] }, labels: kept.map { labels[$0] }) == nil)
        let known = zip([1, 2, 3, 5, 8], [0.4, 0.6, 0.7, 0.75, 0.76]).map {
            LearningCurve.Point(photos: $0, accuracy: $1)
        }
        #expect(LearningCurve.enough(known) == 5)
        #expect(LearningCurve.enough([]) == nil)
        #expect(LearningCurve.enough(LearningCurve.photoSet) != nil)
    }
}
