import Foundation

/// The label-quality study (`iris learn label-quality`, part of `make bench`) on a labelled set
/// of features:
/// - wrong labels: a share of labels flipped to another class at random, and how many of the
///   flipped ones `LabelCheck` puts in its top k (k = number flipped: precision) and top 2k
///   (recall), over seeded trials;
/// - label next: from one labelled photo per class, rounds of `batch` more labelled in
///   `LabelNext`'s order and in random order (the same splits), the nearest class mean's
///   accuracy on a held-out 30 % after each round.
public struct LabelQualityStudy: Sendable {
    public struct WrongLabels: Sendable, Codable {
        public var noise: Double
        public var flipped: Int
        public var precisionAtK: Double
        public var recallAt2K: Double
    }

    public struct Curves: Sendable, Codable {
        /// Labelled photos after each round (the first is one per class).
        public var labelled: [Int]
        public var useful: [Double]
        public var random: [Double]
        /// Smallest margin-between-the-two-nearest-classes first, no coverage.
        public var margin: [Double]
    }

    public let data: [(label: String, feature: [Float])]
    public var noiseLevels = [0.1, 0.2]
    public var trials = 20
    public var curveTrials = 10
    public var rounds = 8
    public var batch = 9

    public init(data: [(label: String, feature: [Float])]) {
        self.data = data.map { ($0.label, LabelCheck.normalised($0.feature)) }
    }

    var classes: [String] { Array(Set(data.map(\.label))).sorted() }

    public func wrongLabels() throws -> [WrongLabels] {
        let names = classes
        let truth = data.map { names.firstIndex(of: $0.label) ?? 0 }
        let features = data.map(\.feature)
        return try noiseLevels.map { noise in
            var precision = 0.0
            var recall = 0.0
            let flipped = Int((noise * Double(data.count)).rounded())
            for trial in 0..<trials {
                var rng = SplitMix(seed: UInt64(trial) &+ 1)
                var labels = truth
                let chosen = LabelNext.sample(0..<data.count, count: flipped, using: &rng)
                for index in chosen {
                    let other = Int(rng.next() % UInt64(names.count - 1))
                    labels[index] = other >= truth[index] ? other + 1 : other
                }
                let result = try LabelCheck.check(
                    features: features, labels: labels.map { [$0] }, classCount: names.count)
                let wrong = Set(chosen)
                let order = result.ranked.map(\.index)
                precision += Double(order.prefix(flipped).filter(wrong.contains).count) / Double(max(flipped, 1))
                recall += Double(order.prefix(2 * flipped).filter(wrong.contains).count) / Double(max(flipped, 1))
            }
            return WrongLabels(
                noise: noise, flipped: flipped, precisionAtK: precision / Double(trials),
                recallAt2K: recall / Double(trials))
        }
    }

    public func labelNext() -> Curves {
        let names = classes
        let truth = data.map { names.firstIndex(of: $0.label) ?? 0 }
        let features = data.map(\.feature)
        var sums = (
            useful: [Double](repeating: 0, count: rounds + 1), random: [Double](repeating: 0, count: rounds + 1),
            margin: [Double](repeating: 0, count: rounds + 1)
        )
        var counts = [Int](repeating: 0, count: rounds + 1)
        for trial in 0..<curveTrials {
            var rng = SplitMix(seed: 1_000 + UInt64(trial))
            let shuffled = LabelNext.sample(0..<data.count, count: data.count, using: &rng).shuffled(using: &rng)
            let test = Array(shuffled.prefix(data.count * 3 / 10))
            let pool = Array(shuffled.dropFirst(test.count))
            let start = (0..<names.count).compactMap { label in pool.first { truth[$0] == label } }
            for strategy in ["useful", "random", "margin"] {
                var labelled = start
                var curve = [accuracy(taught: labelled, test: test, features: features, truth: truth)]
                var order = SplitMix(seed: 2_000 + UInt64(trial))
                for _ in 0..<rounds {
                    let taken = Set(labelled)
                    let candidates = pool.filter { !taken.contains($0) }
                    guard !candidates.isEmpty else { break }
                    let margins = self.margins(taught: labelled, of: candidates, features: features, truth: truth)
                    let picks: [Int]
                    switch strategy {
                    case "useful":
                        let uncertainty = LabelNext.uncertainty(
                            margins: margins, unknown: candidates.map { _ in false })
                        picks = LabelNext.order(
                            candidates: candidates.map { features[$0] }, uncertainty: uncertainty,
                            labelled: labelled.map { features[$0] }, picks: batch, seed: order.next()
                        ).prefix(batch).map { candidates[$0] }
                    case "margin":
                        picks = candidates.indices.sorted { (margins[$0], $0) < (margins[$1], $1) }
                            .prefix(batch).map { candidates[$0] }
                    default:
                        picks = Array(candidates.shuffled(using: &order).prefix(batch))
                    }
                    labelled += picks
                    curve.append(accuracy(taught: labelled, test: test, features: features, truth: truth))
                }
                for (round, value) in curve.enumerated() {
                    switch strategy {
                    case "useful":
                        sums.useful[round] += value
                        counts[round] += 1
                    case "margin": sums.margin[round] += value
                    default: sums.random[round] += value
                    }
                }
            }
        }
        let rows = counts.indices.filter { counts[$0] > 0 }
        return Curves(
            labelled: rows.map { names.count + $0 * batch },
            useful: rows.map { sums.useful[$0] / Double(counts[$0]) },
            random: rows.map { sums.random[$0] / Double(counts[$0]) },
            margin: rows.map { sums.margin[$0] / Double(counts[$0]) })
    }

    func accuracy(taught: [Int], test: [Int], features: [[Float]], truth: [Int]) -> Double {
        let model = LabelNext.ClassMeans(taught.map { (features[$0], truth[$0]) })
        let right = test.filter { model.ranked(features[$0]).first?.label == truth[$0] }
        return Double(right.count) / Double(max(test.count, 1))
    }

    func margins(taught: [Int], of candidates: [Int], features: [[Float]], truth: [Int]) -> [Double] {
        let model = LabelNext.ClassMeans(taught.map { (features[$0], truth[$0]) })
        return candidates.map { model.margin(features[$0]) }
    }
}
