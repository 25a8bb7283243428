public import Foundation
public import IrisML

/// The model page in plain words: how alike a class's photos are and when it answers, what a
/// classification says in one sentence, which classes get confused, and whether a run's figures
/// can be trusted. Pure functions of the learner's statistics, so every wording is tested on numbers.
public enum ModelInWords {
    /// Fewer photos per class than this and a training or test run's figures are not reliable:
    /// an accuracy of 80% measured on 30 photos has a 95% interval of 63–90%, on 10 of 49–94%.
    public static let reliablePerClass = 30

    /// How alike a class's photos are, compared with the other classes of the learner.
    public enum Spread: String, Sendable, Equatable {
        case unmeasured = "not measured yet"
        case tight
        case usual
        case spreadOut = "spread out"
    }

    /// One class in words: "35 photos · answers for most photos like its own".
    public struct ClassReading: Sendable, Equatable {
        public var spread: Spread
        /// The count and when the class answers.
        public var summary: String
        /// What the spread means for this class.
        public var spreadText: String
    }

    /// The statistics of one class the reading is made from (see `IncrementalLearner.Shell`).
    public struct ClassFigures: Sendable, Equatable {
        public var count: Int
        /// Mean and deviation of a new member's distance to its class as it was before.
        public var noiseMean: Double
        public var noiseStd: Double
        public var noiseSamples: Int

        public init(count: Int, noiseMean: Double, noiseStd: Double, noiseSamples: Int) {
            self.count = count
            self.noiseMean = noiseMean
            self.noiseStd = noiseStd
            self.noiseSamples = noiseSamples
        }
    }

    /// A class's photos are `tight` when their usual distance is half a pooled deviation (and at
    /// least 0.02) below the learner's usual distance, `spread out` when as far above; a class
    /// needs 3 photos (2 distances) before it is compared.
    public static func spread(of figures: ClassFigures, pooledMean: Double, pooledStd: Double) -> Spread {
        guard figures.noiseSamples >= 2 else { return .unmeasured }
        let band = max(0.5 * pooledStd, 0.02)
        if figures.noiseMean < pooledMean - band { return .tight }
        if figures.noiseMean > pooledMean + band { return .spreadOut }
        return .usual
    }

    /// The share of a class's new photos expected within `threshold`, taking their distances as
    /// normal with the class's mean and deviation (a step at the mean when there is no deviation).
    public static func shareWithin(threshold: Double, mean: Double, std: Double) -> Double {
        guard std > 1e-9 else { return mean <= threshold ? 1 : 0 }
        return 0.5 * erfc(-(threshold - mean) / (std * 2.0.squareRoot()))
    }

    /// The reading of one class against the learner's threshold and pooled noise.
    public static func reading(
        of figures: ClassFigures, threshold: Double, pooledMean: Double, pooledStd: Double
    ) -> ClassReading {
        let photos = figures.count == 1 ? "1 photo" : "\(figures.count) photos"
        let spread = spread(of: figures, pooledMean: pooledMean, pooledStd: pooledStd)
        let answers: String
        let spreadText: String
        switch spread {
        case .unmeasured:
            answers = "too few photos to tell when it answers"
            spreadText = "Add a few more photos to tell how alike its photos are."
        case .tight, .usual, .spreadOut:
            let share = shareWithin(threshold: threshold, mean: figures.noiseMean, std: figures.noiseStd)
            // 3 in 4 of its own photos answered: "most"; fewer than 2 in 5: the threshold sits
            // below this class's usual distance, so many of its photos come out unknown.
            if share >= 0.75 {
                answers = "answers for most photos like its own"
            } else if share >= 0.4 {
                answers = "answers when a photo is about as close as its own usually are"
            } else {
                answers = "answers only when closer than usual for this class"
            }
            switch spread {
            case .tight: spreadText = "Tight: its photos are more alike than most classes' photos."
            case .spreadOut: spreadText = "Spread out: its photos differ more than most classes' photos do."
            default: spreadText = "Usual: its photos are about as alike as most classes' photos."
            }
        }
        return ClassReading(spread: spread, summary: "\(photos) · \(answers)", spreadText: spreadText)
    }

    /// A classification as one sentence, with one calibrated percentage: "bird, 91% sure", or
    /// "unknown — nearest class bovid, but further than its photos usually are".
    public static func sentence(for answer: IncrementalLearner.Answer) -> String {
        guard let nearest = answer.ranked.first else { return "unknown — the learner has no classes yet" }
        let runnerUp = answer.ranked.dropFirst().first
        guard let label = answer.label else {
            let howFar =
                answer.ratio <= 1.25 ? "a little further" : answer.ratio <= 2 ? "further" : "much further"
            return "unknown — nearest class \(nearest.label), but \(howFar) than its photos usually are"
        }
        // Never 0% or 100%: the calibration is a fit, not a certainty.
        let percent = min(max(Int((answer.confidence * 100).rounded()), 1), 99)
        var text = "\(label), \(percent)% sure"
        // A runner-up within a tenth of the threshold of the nearest is as good as tied.
        if let runnerUp, runnerUp.distance - nearest.distance < 0.1 * nearest.threshold {
            text += "; \(runnerUp.label) is nearly as close"
        }
        return text
    }

    /// Which classes are confused with which, from a test's confusion matrix (rows true
    /// classes, columns answers, the last `unknown`): a pair is confused when at least 2 photos
    /// and a tenth of a class's test photos were taken for the other, either way round.
    public static func confusedPairs(labels: [String], confusion: [[Int]]) -> [String: [String]] {
        var pairs: [String: Set<String>] = [:]
        for (row, truth) in labels.enumerated() where row < confusion.count {
            let total = confusion[row].reduce(0, +)
            for (column, answer) in labels.enumerated() where column != row && column < confusion[row].count {
                let taken = confusion[row][column]
                guard taken >= 2, Double(taken) >= 0.1 * Double(total) else { continue }
                pairs[truth, default: []].insert(answer)
                pairs[answer, default: []].insert(truth)
            }
        }
        return pairs.mapValues { $0.sorted() }
    }

    /// Without a test: a class is close to its nearest other class when their centroids are
    /// nearer each other than a photo usually is to its own class (the pooled noise mean).
    public static func closeClasses(
        nearest: [String: (label: String, distance: Double)], pooledMean: Double
    ) -> [String: [String]] {
        guard pooledMean > 0 else { return [:] }
        var pairs: [String: Set<String>] = [:]
        for (name, other) in nearest where other.distance < pooledMean {
            pairs[name, default: []].insert(other.label)
            pairs[other.label, default: []].insert(name)
        }
        return pairs.mapValues { $0.sorted() }
    }

    /// A class of the learner in words, with the classes it gets confused with.
    public struct ClassWords: Sendable, Equatable {
        public var reading: ClassReading
        public var confusedWith: [String]
        /// Where `confusedWith` comes from: `test` (the latest learner test) or `distance`
        /// (centroids nearer each other than its photos usually are).
        public var confusionFrom: String?
    }

    /// Every class of `learner` in words. The latest learner test's confusion names the
    /// confused classes it covers; classes it did not test are judged by their centroids.
    public static func classWords(
        _ learner: IncrementalLearner, threshold: Double, latestTest: EvaluationReport?
    ) -> [String: ClassWords] {
        let pooled = learner.pooledNoise
        let tested = latestTest.map { confusedPairs(labels: $0.labels, confusion: $0.confusion) } ?? [:]
        let testedLabels = Set(latestTest?.labels ?? [])
        let close = closeClasses(nearest: learner.nearestOtherClass(), pooledMean: pooled.mean)
        var words: [String: ClassWords] = [:]
        for (name, shell) in learner.shells {
            let figures = ClassFigures(
                count: shell.count, noiseMean: shell.noiseMean, noiseStd: shell.noiseStd,
                noiseSamples: shell.noiseSamples)
            let confused = testedLabels.contains(name) ? tested[name] ?? [] : close[name] ?? []
            words[name] = ClassWords(
                reading: reading(of: figures, threshold: threshold, pooledMean: pooled.mean, pooledStd: pooled.std),
                confusedWith: confused,
                confusionFrom: confused.isEmpty ? nil : testedLabels.contains(name) ? "test" : "distance")
        }
        return words
    }

    /// The 95% Wilson score interval of a proportion of `correct` in `total`.
    public static func wilson(correct: Int, total: Int, z: Double = 1.96) -> (low: Double, high: Double) {
        guard total > 0 else { return (0, 1) }
        let n = Double(total)
        let p = Double(min(max(correct, 0), total)) / n
        let z2 = z * z
        let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / (1 + z2 / n)
        return (max(0, centre - half), min(1, centre + half))
    }

    /// What to say beside a test's figures when a class had fewer than `reliablePerClass` test
    /// photos (nil when every class had enough).
    public static func testCaution(supports: [Int]) -> String? {
        guard let fewest = supports.min(), fewest < reliablePerClass else { return nil }
        return "Not reliable: a class had only \(fewest) test photo\(fewest == 1 ? "" : "s")"
            + " (at least \(reliablePerClass) per class are needed for figures to trust)."
    }

    /// What to say beside a training run's figures when it had fewer than `reliablePerClass`
    /// photos per class on average (nil when it had enough).
    public static func trainingCaution(photos: Int, classes: Int) -> String? {
        guard classes > 0 else { return nil }
        let perClass = photos / classes
        guard perClass < reliablePerClass else { return nil }
        return "Not reliable: about \(perClass) photo\(perClass == 1 ? "" : "s") per class"
            + " (at least \(reliablePerClass) per class are needed for figures to trust)."
    }
}
