import Foundation

/// The quality study of the learner and the trained head on a labelled set of features
/// (`iris learn quality`, part of `make bench`), as a user meets the learner: in each of
/// `trials` random splits, a quarter of the classes is never taught; every other class is
/// taught `k` photos and tested on the rest; the untaught classes' photos are all tested.
///
/// For each k it reports how often a photo of a taught class gets its class (not `unknown`),
/// how often an untaught class's photo gets `unknown`, how well the learner's distance ratio
/// separates the two (AUROC), and the expected calibration error of the confidence that comes
/// with a class answer. At k = 10 the trained head is measured on the very same splits.
public struct LearningQuality: Sendable {
    public struct CurvePoint: Sendable, Codable {
        public var factor: Double
        public var coverage: Double
        public var accuracy: Double
    }

    /// The threshold factors the coverage / accuracy curve is drawn at.
    public static let curveFactors = [0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0]

    public struct Row: Sendable, Codable {
        public var k: Int
        /// Photos of taught classes whose nearest class is theirs (the ceiling for `right`).
        public var nearest: Double
        /// Photos of taught classes answered with their class (an `unknown` answer is wrong).
        public var right: Double
        public var unknownOnTaught: Double
        /// Of the taught photos whose nearest class is theirs, the share answered `unknown`
        /// (what a threshold costs where it could have been right).
        public var unknownOnRightNearest: Double = 0
        /// The coverage / accuracy curve over the taught photos: for each factor on the
        /// threshold, the share answered and the share of those answers that are right.
        public var curve: [CurvePoint] = []
        /// Photos of untaught classes answered `unknown`.
        public var unknownOnUntaught: Double
        /// How well the distance ratio tells untaught from taught photos (1 perfect, 0.5 chance).
        public var unknownAUROC: Double
        /// The same by the nearest class's distance alone (no per-class threshold): what the
        /// thresholds add or lose.
        public var distanceAUROC: Double = 0
        /// Expected calibration error of the confidence given with a class answer (10 bins).
        public var calibrationError: Double
        /// Mean confidence and the share right, over the class answers.
        public var meanConfidence: Double
        public var answeredRight: Double
    }

    public struct Figures: Sendable, Codable {
        public var classes: Int
        public var examples: Int
        public var trials: Int
        /// Untaught classes in each split.
        public var heldOut: Int
        public var rows: [Row]
        /// The head trained on the same k = 10 splits (its nearest class, no unknown), and the
        /// learner's nearest class on those splits.
        public var headAccuracy: Double
        public var learnerAtTen: Double
        public var majorityBaseline: Double
    }

    public let data: [(label: String, feature: [Float])]
    public var rules = IncrementalLearner.Thresholds()
    public var trials = 20
    public var shots = [1, 5, 10]
    public var temperature = IncrementalLearner.temperature
    public var calibration = IncrementalLearner.Calibration.standard
    /// The splits' random seed (the calibration is fitted on other splits than those reported).
    public var seed: UInt64 = 7
    /// Classes never taught in each split (default: a quarter, at least one; 0 teaches all).
    public var heldOutClasses: Int?
    /// Whether the trained head is measured too (at k = 10, five splits).
    public var measureHead = true

    public init(data: [(label: String, feature: [Float])]) { self.data = data }

    /// Runs the study; `sample` sees every answer's ratio and lead and whether its nearest
    /// class was right (for fitting the calibration).
    public func run(sample: (_ ratio: Double, _ lead: Double, _ right: Bool) -> Void = { _, _, _ in }) throws -> Figures
    {
        let labels = Array(Set(data.map(\.label))).sorted()
        let byClass = Dictionary(grouping: data.indices, by: { data[$0].label })
        let dimension = data.first?.feature.count ?? 0
        let heldOut = heldOutClasses ?? max(1, labels.count / 4)
        var rng = SplitMix(seed: seed)
        var rows: [Row] = []
        var head = 0.0
        var learnerTen = 0.0
        var majority = 0.0
        var headTrials = 0
        for k in shots {
            var nearest = 0
            var right = 0
            var unknownTaught = 0
            var taught = 0
            var unknownUntaught = 0
            var untaught = 0
            var scores: [Double] = []
            var distances: [Double] = []
            var isUntaught: [Bool] = []
            var answers: [(confidence: Double, right: Bool)] = []
            var unknownRightNearest = 0
            var taughtAnswers: [(ratio: Double, right: Bool)] = []
            for trial in 0..<trials {
                var shuffled = labels
                rng.shuffle(&shuffled)
                let unknown = Set(shuffled.prefix(heldOut))
                var learner = IncrementalLearner(dimension: dimension)
                var train: [(label: String, feature: [Float])] = []
                var test: [Int] = []
                for label in labels {
                    var members = byClass[label]!
                    rng.shuffle(&members)
                    if unknown.contains(label) {
                        test += members
                        continue
                    }
                    for index in members.prefix(k) {
                        learner.add(data[index].feature, to: label)
                        train.append(data[index])
                    }
                    test += members.dropFirst(k)
                }
                let ready = learner.prepared(rules: rules, calibration: calibration)
                var trialNearest = 0
                var trialTaught: [Int] = []
                for index in test {
                    let answer = ready.classify(data[index].feature, temperature: temperature, limit: 1)
                    let outside = unknown.contains(data[index].label)
                    scores.append(answer.ratio)
                    distances.append(answer.ranked.first?.distance ?? 0)
                    isUntaught.append(outside)
                    if let label = answer.label { answers.append((answer.confidence, label == data[index].label)) }
                    sample(answer.ratio, answer.lead, answer.ranked.first?.label == data[index].label)
                    if outside {
                        untaught += 1
                        if answer.label == nil { unknownUntaught += 1 }
                        continue
                    }
                    taught += 1
                    trialTaught.append(index)
                    let nearestRight = answer.ranked.first?.label == data[index].label
                    taughtAnswers.append((answer.ratio, nearestRight))
                    if nearestRight {
                        nearest += 1
                        trialNearest += 1
                        if answer.label == nil { unknownRightNearest += 1 }
                    }
                    if answer.label == data[index].label { right += 1 }
                    if answer.label == nil { unknownTaught += 1 }
                }
                if measureHead, k == 10, trial < 5, !trialTaught.isEmpty {
                    // The head on the very same split (five trials: training costs more).
                    let classes = labels.filter { !unknown.contains($0) }
                    let (model, _) = try SoftmaxRegression.train(
                        features: train.map(\.feature), labels: train.map { classes.firstIndex(of: $0.label)! },
                        classes: classes)
                    let hits = trialTaught.filter { model.ranked(data[$0].feature).first?.label == data[$0].label }
                    head += Double(hits.count) / Double(trialTaught.count)
                    learnerTen += Double(trialNearest) / Double(trialTaught.count)
                    let counts = Dictionary(grouping: trialTaught, by: { data[$0].label }).mapValues(\.count)
                    majority += Double(counts.values.max() ?? 0) / Double(trialTaught.count)
                    headTrials += 1
                }
            }
            rows.append(
                Row(
                    k: k, nearest: Self.share(nearest, of: taught), right: Self.share(right, of: taught),
                    unknownOnTaught: Self.share(unknownTaught, of: taught),
                    unknownOnRightNearest: Self.share(unknownRightNearest, of: nearest),
                    curve: Self.curveFactors.map { factor in
                        let answered = taughtAnswers.filter { $0.ratio <= factor }
                        return CurvePoint(
                            factor: factor, coverage: Self.share(answered.count, of: taughtAnswers.count),
                            accuracy: Self.share(answered.filter(\.right).count, of: answered.count))
                    },
                    unknownOnUntaught: Self.share(unknownUntaught, of: untaught),
                    unknownAUROC: EvaluationReport.auroc(scores: scores, positives: isUntaught) ?? 0,
                    distanceAUROC: EvaluationReport.auroc(scores: distances, positives: isUntaught) ?? 0,
                    calibrationError: Self.calibrationError(answers),
                    meanConfidence: answers.isEmpty
                        ? 0 : answers.map(\.confidence).reduce(0, +) / Double(answers.count),
                    answeredRight: Self.share(answers.filter(\.right).count, of: answers.count)))
        }
        let trialsRun = Double(max(headTrials, 1))
        return Figures(
            classes: labels.count, examples: data.count, trials: trials, heldOut: heldOut, rows: rows,
            headAccuracy: head / trialsRun, learnerAtTen: learnerTen / trialsRun, majorityBaseline: majority / trialsRun
        )
    }

    static func share(_ count: Int, of total: Int) -> Double { total > 0 ? Double(count) / Double(total) : 0 }

    /// Expected calibration error over 10 equal-width confidence bins: the answers' weighted
    /// mean of |share right − mean confidence| per bin.
    public static func calibrationError(_ answers: [(confidence: Double, right: Bool)]) -> Double {
        guard !answers.isEmpty else { return 0 }
        var bins = [(count: Int, confidence: Double, right: Int)](repeating: (0, 0, 0), count: 10)
        for answer in answers {
            let bin = min(9, max(0, Int(answer.confidence * 10)))
            bins[bin].count += 1
            bins[bin].confidence += answer.confidence
            bins[bin].right += answer.right ? 1 : 0
        }
        return bins.filter { $0.count > 0 }.reduce(0.0) { total, bin in
            let gap = abs(Double(bin.right) / Double(bin.count) - bin.confidence / Double(bin.count))
            return total + gap * Double(bin.count) / Double(answers.count)
        }
    }

    /// Fits the calibration's three coefficients by Newton's method on the log-loss (a few
    /// dozen iterations; the problem is convex), with a little ridge for stability.
    public static func fitCalibration(_ samples: [(ratio: Double, lead: Double, right: Bool)])
        -> IncrementalLearner.Calibration
    {
        var w = [0.0, 0.0, 0.0]
        for _ in 0..<50 {
            var gradient = [0.0, 0.0, 0.0]
            var hessian = [[Double]](repeating: [0, 0, 0], count: 3)
            for sample in samples {
                let x = [1, min(sample.ratio, 10), sample.lead]
                let p = 1 / (1 + exp(-(w[0] * x[0] + w[1] * x[1] + w[2] * x[2])))
                let y = sample.right ? 1.0 : 0.0
                for i in 0..<3 {
                    gradient[i] += (p - y) * x[i]
                    for j in 0..<3 { hessian[i][j] += p * (1 - p) * x[i] * x[j] }
                }
            }
            for i in 0..<3 {
                gradient[i] += 1e-3 * w[i]
                hessian[i][i] += 1e-3
            }
            guard let step = solve3(hessian, gradient) else { break }
            for i in 0..<3 { w[i] -= step[i] }
            if step.map(abs).max()! < 1e-9 { break }
        }
        return .init(bias: w[0], ratio: w[1], lead: w[2])
    }

    /// Solves a 3 × 3 system by Cramer's rule; nil when it is singular.
    static func solve3(_ a: [[Double]], _ b: [Double]) -> [Double]? {
        func det(_ m: [[Double]]) -> Double {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        }
        let d = det(a)
        guard abs(d) > 1e-15 else { return nil }
        return (0..<3).map { column in
            var m = a
            for row in 0..<3 { m[row][column] = b[row] }
            return det(m) / d
        }
    }
}
