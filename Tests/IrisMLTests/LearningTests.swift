import IrisML
import Testing

/// The learning arithmetic on small, hand-made features whose answers are known.
@Suite struct LearningTests {
    /// Points around `centre` in 8 dimensions, spread by `noise`.
    static func cloud(_ centre: [Float], count: Int, noise: Float, seed: UInt64) -> [[Float]] {
        var rng = SplitMix(seed: seed)
        return (0..<count).map { _ in centre.map { $0 + Float.random(in: -noise...noise, using: &rng) } }
    }

    static let a: [Float] = [1, 0, 0, 0, 1, 0, 0, 0]
    static let b: [Float] = [0, 1, 0, 0, 0, 1, 0, 0]
    static let c: [Float] = [0, 0, 1, 0, 0, 0, 1, 0]

    @Test("adding examples one by one gives what a rebuild from all of them gives")
    func incrementalMatchesRebuild() {
        var learner = IncrementalLearner(dimension: 8)
        var members: [(label: String, feature: [Float])] = []
        for (label, centre) in [("a", Self.a), ("b", Self.b)] {
            for feature in Self.cloud(centre, count: 6, noise: 0.2, seed: 3) {
                learner.add(feature, to: label)
                members.append((label, feature))
            }
        }
        let rebuilt = IncrementalLearner.rebuilt(dimension: 8, members: members)
        #expect(learner.count == 12 && rebuilt.count == 12 && learner.classCount == 2)
        for name in ["a", "b"] {
            let one = learner.shells[name]!
            let other = rebuilt.shells[name]!
            #expect(one.count == other.count)
            #expect(zip(one.sum, other.sum).allSatisfy { abs($0 - $1) < 1e-9 })
        }
        // Removing a class takes its examples out of the global sum.
        learner.remove("b")
        #expect(learner.count == 6 && learner.classCount == 1 && learner.shells["b"] == nil)
    }

    @Test("the nearest class answers; a feature far from every class is unknown; thresholds follow the noise")
    func classifyAndUnknown() {
        var learner = IncrementalLearner(dimension: 8)
        for feature in Self.cloud(Self.a, count: 10, noise: 0.1, seed: 1) { learner.add(feature, to: "a") }
        for feature in Self.cloud(Self.b, count: 10, noise: 0.4, seed: 2) { learner.add(feature, to: "b") }
        let rules = IncrementalLearner.Thresholds(sigmas: 3)
        let nearA = learner.classify(Self.cloud(Self.a, count: 1, noise: 0.03, seed: 99)[0], rules: rules)
        #expect(nearA.label == "a" && nearA.ranked.first?.label == "a" && nearA.ratio <= 1, "\(nearA)")
        #expect(nearA.ranked[0].confidence > nearA.ranked[1].confidence)
        #expect(abs(nearA.ranked.map(\.confidence).reduce(0, +) - 1) < 1e-9)
        let elsewhere = learner.classify(Self.c, rules: rules)
        #expect(elsewhere.label == nil && elsewhere.ratio > 1)
        // One threshold for all classes, from the noise of both pooled.
        let pooled = learner.pooledNoise
        #expect(pooled.samples == 18)
        #expect(abs(learner.threshold(rules: rules) - (pooled.mean + 3 * pooled.std)) < 1e-12)
        #expect(
            learner.threshold(of: learner.shells["b"]!, rules: rules)
                == learner.threshold(of: learner.shells["a"]!, rules: rules))
        // A fixed distance overrides the measured threshold.
        let loose = learner.classify(Self.c, rules: IncrementalLearner.Thresholds(override: 2))
        #expect(loose.label != nil)
    }

    @Test("the noise is what a new member sees: its distance to the class before it joined, none for the first")
    func noiseBeforeJoining() {
        var learner = IncrementalLearner(dimension: 8)
        let features = Self.cloud(Self.a, count: 4, noise: 0.3, seed: 5)
        for feature in Self.cloud(Self.b, count: 3, noise: 0.3, seed: 6) { learner.add(feature, to: "b") }
        #expect(learner.add(features[0], to: "a") == nil)
        #expect(learner.shells["a"]!.noiseSamples == 0 && learner.shells["a"]!.noiseMean == 0)
        var seen: [Double] = []
        for feature in features.dropFirst() {
            let before = learner.classify(feature, rules: .init(), limit: 5).ranked.first { $0.label == "a" }!.distance
            let answered = learner.add(feature, to: "a")!
            #expect(abs(answered - before) < 1e-6, "\(answered) vs \(before)")
            seen.append(answered)
        }
        let shell = learner.shells["a"]!
        #expect(shell.noiseSamples == 3)
        #expect(abs(shell.noiseMean - seen.reduce(0, +) / 3) < 1e-9)
        // With no distances at all the prior decides; with a few it is blended in.
        let lone = IncrementalLearner.rebuilt(dimension: 8, members: [("a", Self.a), ("b", Self.b)])
        #expect(lone.threshold(rules: .init(prior: 0.7)) == 0.7)
        // A consolidation measures the same way, in the final geometry.
        let members = features.map { ("a", $0) } + Self.cloud(Self.b, count: 3, noise: 0.3, seed: 6).map { ("b", $0) }
        let rebuilt = IncrementalLearner.rebuilt(dimension: 8, members: members)
        #expect(rebuilt.shells["a"]!.noiseSamples == 3 && rebuilt.shells["a"]!.noiseMean > 0)
    }

    @Test("a trained head separates the classes, stops early, and its report counts every example once")
    func softmaxRegression() throws {
        var features: [[Float]] = []
        var labels: [Int] = []
        for (label, centre) in [Self.a, Self.b, Self.c].enumerated() {
            for feature in Self.cloud(centre, count: 30, noise: 0.3, seed: UInt64(label + 10)) {
                features.append(feature)
                labels.append(label)
            }
        }
        let (head, report) = try SoftmaxRegression.train(features: features, labels: labels, classes: ["a", "b", "c"])
        #expect(report.trainCount + report.validationCount == 90 && report.validationCount == 15)
        #expect(report.bestEpoch >= 1 && report.epochs.count <= 60)
        #expect(head.ranked(Self.b).first?.label == "b")
        #expect(head.ranked([0, 0.1, 0.9, 0, 0, 0, 1.2, 0]).first?.label == "c")
        #expect(throws: LearningError.self) {
            try SoftmaxRegression.train(features: [Self.a], labels: [0], classes: ["a"])
        }
    }

    @Test("evaluation: accuracy, unknown rate, per-class scores, the confusion matrix and AUROC")
    func report() {
        let examples: [EvaluationReport.Example] = [
            .init(truth: "a", answer: "a", ranked: ["a", "b"], ratio: 0.5),
            .init(truth: "a", answer: "b", ranked: ["b", "a"], ratio: 0.9),
            .init(truth: "b", answer: "b", ranked: ["b", "a"], ratio: 0.4),
            .init(truth: "b", answer: nil, ranked: ["b", "a"], ratio: 1.4),
        ]
        let report = EvaluationReport(examples: examples, labels: ["a", "b"], topK: 1)
        #expect(report.accuracy == 0.5 && report.unknownRate == 0.25 && report.topKAccuracy == 0.75)
        #expect(report.confusion == [[1, 1, 0], [0, 1, 1]])
        let b = report.classes[1]
        #expect(b.precision == 0.5 && b.recall == 0.5 && b.support == 2)
        // Answering only within ×1 of the threshold: 3 of 4, of which 2 right.
        let atOne = report.coverage!.first { $0.ratio == 1.0 }!
        #expect(atOne.coverage == 0.75 && abs(atOne.accuracy - 2.0 / 3.0) < 1e-12)
        #expect(EvaluationReport.auroc(scores: [0.1, 0.2, 0.8, 0.9], positives: [false, false, true, true]) == 1)
        #expect(EvaluationReport.auroc(scores: [0.5, 0.5], positives: [false, true]) == 0.5)
        #expect(EvaluationReport.auroc(scores: [0.1], positives: [true]) == nil)
    }
}
