/// The quality study of the learner and the trained head on a labelled set of features
/// (`iris learn quality`, part of `make bench`): k-shot accuracy, the head against the
/// learner on the same split, and how well "unknown" separates classes never taught.
public struct LearningQuality: Sendable {
    public struct Figures: Sendable, Codable {
        public var classes: Int
        public var examples: Int
        public var trials: Int
        /// k → mean accuracy of the learner's nearest class (no unknown answer).
        public var learnerKShot: [Int: Double]
        /// k → mean accuracy when an unknown answer counts as wrong.
        public var learnerKShotWithUnknown: [Int: Double]
        public var majorityBaseline: Double
        /// The head trained on the same k = 10 examples per class, on the same test examples.
        public var headAccuracy: Double
        public var learnerAtTen: Double
        /// Unknown rejection with `heldOut` classes never taught: AUROC of the distance ratio.
        public var heldOut: Int
        public var unknownAUROC: Double
        /// Accuracy (a held-out example answered unknown counts right) answering the 90% most confident.
        public var accuracyAt90Coverage: Double
        public var unknownRateOnKnown: Double
        public var unknownRateOnHeldOut: Double
    }

    public let data: [(label: String, feature: [Float])]
    public var rules = IncrementalLearner.Thresholds()
    public var trials = 20

    public init(data: [(label: String, feature: [Float])]) { self.data = data }

    public func run() throws -> Figures {
        let labels = Array(Set(data.map(\.label))).sorted()
        let byClass = Dictionary(grouping: data.indices, by: { data[$0].label })
        let dimension = data.first?.feature.count ?? 0
        var rng = SplitMix(seed: 7)
        var kShot: [Int: Double] = [:]
        var kShotUnknown: [Int: Double] = [:]
        var head = 0.0
        var learnerTen = 0.0
        var majority = 0.0
        for k in [1, 5, 10] {
            for trial in 0..<trials {
                var train: [(label: String, feature: [Float])] = []
                var test: [Int] = []
                for label in labels {
                    var members = byClass[label]!
                    rng.shuffle(&members)
                    train += members.prefix(k).map { data[$0] }
                    test += members.dropFirst(k)
                }
                var learner = IncrementalLearner(dimension: dimension)
                for example in train { learner.add(example.feature, to: example.label) }
                var right = 0
                var rightStrict = 0
                for index in test {
                    let answer = learner.classify(data[index].feature, rules: rules, limit: 1)
                    if answer.ranked.first?.label == data[index].label { right += 1 }
                    if answer.label == data[index].label { rightStrict += 1 }
                }
                kShot[k, default: 0] += Double(right) / Double(test.count) / Double(trials)
                kShotUnknown[k, default: 0] += Double(rightStrict) / Double(test.count) / Double(trials)
                if k == 10, trial < 5 {
                    // The head on the very same split (five trials: training costs more).
                    let (model, _) = try SoftmaxRegression.train(
                        features: train.map(\.feature), labels: train.map { labels.firstIndex(of: $0.label)! },
                        classes: labels)
                    let hits = test.filter { model.ranked(data[$0].feature).first?.label == data[$0].label }.count
                    head += Double(hits) / Double(test.count) / 5
                    learnerTen += Double(right) / Double(test.count) / 5
                    let counts = Dictionary(grouping: test, by: { data[$0].label }).mapValues(\.count)
                    majority += Double(counts.values.max() ?? 0) / Double(test.count) / 5
                }
            }
        }
        // Unknown rejection: hold classes out, teach the rest with ten examples each.
        let heldOut = max(1, labels.count / 4)
        var scores: [Double] = []
        var isUnknown: [Bool] = []
        var confident: [(ratio: Double, right: Bool)] = []
        for _ in 0..<trials {
            var shuffled = labels
            rng.shuffle(&shuffled)
            let unknown = Set(shuffled.prefix(heldOut))
            var learner = IncrementalLearner(dimension: dimension)
            var test: [Int] = []
            for label in labels {
                var members = byClass[label]!
                rng.shuffle(&members)
                if unknown.contains(label) {
                    test += members
                    continue
                }
                for index in members.prefix(10) { learner.add(data[index].feature, to: label) }
                test += members.dropFirst(10)
            }
            for index in test {
                let answer = learner.classify(data[index].feature, rules: rules, limit: 1)
                let isOut = unknown.contains(data[index].label)
                scores.append(answer.ratio)
                isUnknown.append(isOut)
                let right = isOut ? answer.label == nil : answer.label == data[index].label
                confident.append((answer.ratio, right))
            }
        }
        confident.sort { $0.ratio < $1.ratio }
        let kept = confident.prefix(Int(Double(confident.count) * 0.9))
        // Answering the 90% nearest: those are given their nearest class (or unknown if beyond threshold).
        let known = zip(scores, isUnknown).filter { !$0.1 }
        let outside = zip(scores, isUnknown).filter { $0.1 }
        return Figures(
            classes: labels.count, examples: data.count, trials: trials, learnerKShot: kShot,
            learnerKShotWithUnknown: kShotUnknown,
            majorityBaseline: majority, headAccuracy: head, learnerAtTen: learnerTen, heldOut: heldOut,
            unknownAUROC: EvaluationReport.auroc(scores: scores, positives: isUnknown) ?? 0,
            accuracyAt90Coverage: Double(kept.filter(\.right).count) / Double(max(kept.count, 1)),
            unknownRateOnKnown: Double(known.filter { $0.0 > 1 }.count) / Double(max(known.count, 1)),
            unknownRateOnHeldOut: Double(outside.filter { $0.0 > 1 }.count) / Double(max(outside.count, 1)))
    }
}
