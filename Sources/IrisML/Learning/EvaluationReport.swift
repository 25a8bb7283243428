/// What a classifier got right on a labelled set: the numbers behind "Test model".
public struct EvaluationReport: Sendable, Codable, Equatable {
    public struct ClassScore: Sendable, Codable, Equatable {
        public var label: String
        public var support: Int
        public var precision: Double
        public var recall: Double
        public var f1: Double
    }

    /// One point of the learner's accuracy/coverage trade-off: answering only when the
    /// nearest class is within `ratio` × its threshold.
    public struct CoveragePoint: Sendable, Codable, Equatable {
        public var ratio: Double
        public var coverage: Double
        public var accuracy: Double
    }

    public var count: Int
    /// Right answers over all examples (an "unknown" answer counts as wrong).
    public var accuracy: Double
    public var topK: Int
    public var topKAccuracy: Double
    public var unknownRate: Double
    public var classes: [ClassScore]
    /// Row = true class, column = answer; the last column is "unknown".
    public var labels: [String]
    public var confusion: [[Int]]
    public var coverage: [CoveragePoint]?
    /// For the learner: the owner's factor on the threshold the run used (coverage ratios are
    /// relative to that threshold).
    public var thresholdScale: Double?

    enum CodingKeys: String, CodingKey {
        case count, accuracy, classes, labels, confusion, coverage
        case thresholdScale = "threshold_scale"
        case topK = "top_k"
        case topKAccuracy = "top_k_accuracy"
        case unknownRate = "unknown_rate"
    }

    /// One example: its true label, the answer (nil = unknown), the ranked candidates, and
    /// for the learner how far beyond its threshold the nearest class was.
    public struct Example: Sendable {
        public var truth: String
        public var answer: String?
        public var ranked: [String]
        public var ratio: Double?
        public init(truth: String, answer: String?, ranked: [String], ratio: Double? = nil) {
            self.truth = truth
            self.answer = answer
            self.ranked = ranked
            self.ratio = ratio
        }
    }

    public init(examples: [Example], labels: [String], topK: Int = 3) {
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: labels.count + 1), count: labels.count)
        var correct = 0
        var topHits = 0
        var unknown = 0
        for example in examples {
            if example.answer == example.truth { correct += 1 }
            if example.answer == nil { unknown += 1 }
            if example.ranked.prefix(topK).contains(example.truth) { topHits += 1 }
            guard let row = index[example.truth] else { continue }
            confusion[row][example.answer.flatMap { index[$0] } ?? labels.count] += 1
        }
        let n = max(examples.count, 1)
        self.count = examples.count
        self.accuracy = Double(correct) / Double(n)
        self.topK = topK
        self.topKAccuracy = Double(topHits) / Double(n)
        self.unknownRate = Double(unknown) / Double(n)
        self.labels = labels
        self.confusion = confusion
        self.classes = labels.enumerated().map { column, label in
            let truePositives = confusion[column][column]
            let support = confusion[column].reduce(0, +)
            let predicted = confusion.reduce(0) { $0 + $1[column] }
            let precision = predicted > 0 ? Double(truePositives) / Double(predicted) : 0
            let recall = support > 0 ? Double(truePositives) / Double(support) : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            return ClassScore(label: label, support: support, precision: precision, recall: recall, f1: f1)
        }
        let ratios = examples.compactMap(\.ratio)
        if ratios.count == examples.count, !examples.isEmpty {
            // The nearest class of each example, accepted or not, decides the trade-off.
            coverage = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0].map { limit in
                let accepted = examples.filter { $0.ratio! <= limit }
                let right = accepted.filter { $0.ranked.first == $0.truth }.count
                return CoveragePoint(
                    ratio: limit, coverage: Double(accepted.count) / Double(examples.count),
                    accuracy: accepted.isEmpty ? 0 : Double(right) / Double(accepted.count))
            }
        } else {
            coverage = nil
        }
    }

    /// Area under the ROC curve of `scores` telling `positives` (true) from negatives:
    /// the chance that a random positive scores above a random negative (ties count half).
    public static func auroc(scores: [Double], positives: [Bool]) -> Double? {
        let pairs = zip(scores, positives).sorted { $0.0 < $1.0 }
        let positiveCount = positives.filter { $0 }.count
        let negativeCount = positives.count - positiveCount
        guard positiveCount > 0, negativeCount > 0 else { return nil }
        // Rank-sum (Mann–Whitney U) with average ranks for ties.
        var rankSum = 0.0
        var start = 0
        while start < pairs.count {
            var end = start
            while end + 1 < pairs.count, pairs[end + 1].0 == pairs[start].0 { end += 1 }
            let rank = Double(start + end) / 2 + 1
            for index in start...end where pairs[index].1 { rankSum += rank }
            start = end + 1
        }
        let u = rankSum - Double(positiveCount * (positiveCount + 1)) / 2
        return u / Double(positiveCount * negativeCount)
    }
}
