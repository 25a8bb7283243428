import Foundation

/// The incremental learner (the seed's "shell family"): one shell per class, holding the
/// sum of its members' L2-normalised features, their number, and running statistics of
/// member distances (the shell's noise). Adding an example touches one shell and the global
/// sum: O(dimension), whatever the number of classes. Classifying measures the cosine
/// distance to every shell's centroid after both are centred on the global mean, and
/// answers `unknown` when the nearest shell is beyond the threshold.
///
/// The noise is what a new photo sees: each member's distance to its class as the class was
/// before the member joined (so a class of one photo has no noise yet, and a member never
/// counts towards its own closeness). The threshold pools the noise of every class: one
/// distance for all, the pooled mean plus `sigmas` pooled deviations, because on real photos
/// a per-class threshold made "unknown" depend on which class was near more than on how near
/// it was (docs/LEARNING.md has the measurements).
public struct IncrementalLearner: Sendable, Equatable {
    public struct Shell: Sendable, Equatable {
        public var name: String
        public var count: Int
        /// Sum of the members' normalised features.
        public var sum: [Double]
        /// Welford's running mean and squared deviations of member distances.
        public var noiseMean: Double
        public var noiseM2: Double

        public init(name: String, count: Int, sum: [Double], noiseMean: Double, noiseM2: Double) {
            self.name = name
            self.count = count
            self.sum = sum
            self.noiseMean = noiseMean
            self.noiseM2 = noiseM2
        }

        /// How many noise distances there are: one for every member after the first.
        public var noiseSamples: Int { max(count - 1, 0) }
        public var noiseStd: Double { noiseSamples > 1 ? (noiseM2 / Double(noiseSamples - 1)).squareRoot() : 0 }

        /// Welford's update with the distance a new member had to the class before joining
        /// (call after `count` has grown).
        mutating func record(noise distance: Double) {
            let n = Double(noiseSamples)
            guard n > 0 else { return }
            let delta = distance - noiseMean
            noiseMean += delta / n
            noiseM2 += delta * (distance - noiseMean)
        }
    }

    /// How the threshold is derived from the pooled noise of every class.
    public struct Thresholds: Sendable, Equatable {
        /// Threshold = pooled noise mean + `sigmas` × pooled noise deviation.
        public var sigmas: Double
        /// Used while the learner has fewer than `minimumMembers` noise distances in all (at
        /// first every class has one photo and none), blended with the pooled figure as they come.
        public var prior: Double
        public var minimumMembers: Int
        /// When set, this distance instead of the pooled threshold.
        public var override: Double?
        /// A project owner's factor on the measured threshold (not on `override`).
        public var scale: Double = 1

        public init(sigmas: Double = 1.25, prior: Double = 0.8, minimumMembers: Int = 10, override: Double? = nil) {
            self.sigmas = sigmas
            self.prior = prior
            self.minimumMembers = minimumMembers
            self.override = override
        }
    }

    public struct Ranked: Sendable, Equatable {
        public var label: String
        public var distance: Double
        public var threshold: Double
        public var confidence: Double
    }

    public struct Answer: Sendable, Equatable {
        /// Nearest first.
        public var ranked: [Ranked]
        /// The nearest class, or nil (unknown) when it is beyond its threshold.
        public var label: String?
        /// How far the nearest class is, in units of its threshold (> 1 is unknown).
        public var ratio: Double
        /// How much nearer the nearest class is than the runner-up (d₂ − d₁; 1 with one class).
        public var lead: Double
        /// The probability that the nearest class is the photo's class, from how far it is
        /// (`ratio`) and how far ahead of the runner-up (`Calibration`).
        public var confidence: Double
    }

    /// A logistic map from an answer's distances to the probability that its nearest class is
    /// right: σ(bias + ratio × d₁/threshold + lead × (d₂ − d₁)). The coefficients were fitted
    /// (`iris learn quality --fit-calibration`) on the photo evaluation set with MobileNetV2;
    /// docs/LEARNING.md gives the calibration error they reach there and on the crop set.
    public struct Calibration: Sendable, Equatable, Codable {
        public var bias: Double
        public var ratio: Double
        public var lead: Double

        public init(bias: Double, ratio: Double, lead: Double) {
            self.bias = bias
            self.ratio = ratio
            self.lead = lead
        }

        public static let standard = Calibration(bias: 1.1621, ratio: -2.1766, lead: 4.0747)

        public func probability(ratio r: Double, lead l: Double) -> Double {
            let z = bias + ratio * min(r, 10) + lead * l
            return 1 / (1 + Foundation.exp(-z))
        }
    }

    /// The softmax temperature of the confidences (over negative distances).
    public static let temperature = 0.05

    public let dimension: Int
    public private(set) var globalSum: [Double]
    public private(set) var count: Int
    /// The shells loaded: all of them, or (to add examples in O(1)) only those touched.
    public private(set) var shells: [String: Shell]
    /// How many classes the learner has, loaded or not.
    public private(set) var classCount: Int

    public init(dimension: Int) {
        self.dimension = dimension
        globalSum = [Double](repeating: 0, count: dimension)
        count = 0
        shells = [:]
        classCount = 0
    }

    /// Restores a persisted learner, with all its shells or some (then give `classCount`).
    public init(dimension: Int, globalSum: [Double], count: Int, shells: [Shell], classCount: Int? = nil) {
        self.dimension = dimension
        self.globalSum = globalSum.count == dimension ? globalSum : [Double](repeating: 0, count: dimension)
        self.count = count
        self.shells = Dictionary(uniqueKeysWithValues: shells.map { ($0.name, $0) })
        self.classCount = classCount ?? shells.count
    }

    public var classNames: [String] { shells.keys.sorted() }

    /// Adds one example to a class (made if new). Answers its distance to the class as it was
    /// (nil for a class's first example), which joins the class's noise.
    @discardableResult
    public mutating func add(_ feature: [Float], to label: String) -> Double? {
        precondition(feature.count == dimension, "feature of \(feature.count) values for a learner of \(dimension)")
        let unit = Self.normalised(feature)
        let before = shells[label].map { distance(unit, to: $0) }
        var shell = accumulate(unit, into: label)
        if let before { shell.record(noise: before) }
        shells[label] = shell
        return before
    }

    /// Adds a normalised feature to a class's sum (making the class) and to the global sum;
    /// answers the class, whose noise statistics the caller updates.
    private mutating func accumulate(_ unit: [Double], into label: String) -> Shell {
        if shells[label] == nil { classCount += 1 }
        var shell =
            shells[label]
            ?? Shell(name: label, count: 0, sum: [Double](repeating: 0, count: dimension), noiseMean: 0, noiseM2: 0)
        for index in 0..<dimension {
            shell.sum[index] += unit[index]
            globalSum[index] += unit[index]
        }
        shell.count += 1
        count += 1
        return shell
    }

    /// Takes one member out of a class (its label was corrected away), in O(dimension): the
    /// class's and the global sums lose its feature. The class stays, empty if it was the last
    /// member (as consolidation keeps it). The noise statistics keep the member's distance
    /// until the next consolidation rebuilds them exactly.
    public mutating func subtract(_ feature: [Float], from label: String) {
        guard var shell = shells[label], shell.count > 0, feature.count == dimension else { return }
        let unit = Self.normalised(feature)
        for index in 0..<dimension {
            shell.sum[index] -= unit[index]
            globalSum[index] -= unit[index]
        }
        shell.count -= 1
        count -= 1
        if shell.count == 0 { shell.sum = [Double](repeating: 0, count: dimension) }
        shells[label] = shell
    }

    /// Removes a class and its contribution to the global mean.
    public mutating func remove(_ label: String) {
        guard let shell = shells.removeValue(forKey: label) else { return }
        classCount -= 1
        for index in 0..<dimension { globalSum[index] -= shell.sum[index] }
        count -= shell.count
    }

    /// Rebuilds everything from members, exactly (the consolidation): centroids, global
    /// mean, and the noise: each member's distance to the members before it, in the final geometry.
    public static func rebuilt(dimension: Int, members: [(label: String, feature: [Float])]) -> IncrementalLearner {
        var learner = IncrementalLearner(dimension: dimension)
        var units: [(String, [Double])] = []
        for member in members {
            let unit = normalised(member.feature)
            units.append((member.label, unit))
            learner.shells[member.label] = learner.accumulate(unit, into: member.label)
        }
        // Each class again from empty, member by member, measured against the final centre.
        var partial: [String: Shell] = [:]
        for (label, unit) in units {
            guard var shell = learner.shells[label] else { continue }
            var growing =
                partial[label]
                ?? Shell(name: label, count: 0, sum: [Double](repeating: 0, count: dimension), noiseMean: 0, noiseM2: 0)
            if growing.count > 0 {
                let before = learner.distance(unit, to: growing)
                growing.count += 1
                growing.record(noise: before)
            } else {
                growing.count = 1
            }
            for index in 0..<dimension { growing.sum[index] += unit[index] }
            partial[label] = growing
            shell.noiseMean = growing.noiseMean
            shell.noiseM2 = growing.noiseM2
            learner.shells[label] = shell
        }
        return learner
    }

    /// The noise of every loaded class together: how many distances, their mean and deviation.
    public var pooledNoise: (samples: Int, mean: Double, std: Double) {
        // In name order, so the same learner always gives the same threshold to the last bit.
        let ordered = shells.keys.sorted().map { shells[$0]! }
        let samples = ordered.reduce(0) { $0 + $1.noiseSamples }
        guard samples > 0 else { return (0, 0, 0) }
        let mean = ordered.reduce(0.0) { $0 + Double($1.noiseSamples) * $1.noiseMean } / Double(samples)
        let m2 = ordered.reduce(0.0) { total, shell in
            let gap = shell.noiseMean - mean
            return total + shell.noiseM2 + Double(shell.noiseSamples) * gap * gap
        }
        return (samples, mean, samples > 1 ? (m2 / Double(samples - 1)).squareRoot() : 0)
    }

    /// The distance above which a feature belongs to no class: the pooled noise's mean plus
    /// `sigmas` deviations, leaning on the prior while there are few distances.
    public func threshold(rules: Thresholds) -> Double {
        if let override = rules.override { return override }
        let pooled = pooledNoise
        guard pooled.samples > 0 else { return rules.scale * rules.prior }
        let own = pooled.mean + rules.sigmas * pooled.std
        guard pooled.samples < rules.minimumMembers else { return rules.scale * own }
        let weight = Double(pooled.samples) / Double(max(rules.minimumMembers, 1))
        return rules.scale * (weight * own + (1 - weight) * rules.prior)
    }

    /// The threshold that applies to `shell`: the same for every class (see `threshold(rules:)`).
    public func threshold(of shell: Shell, rules: Thresholds) -> Double { threshold(rules: rules) }

    /// Ranks every class for one feature. `temperature` softens the confidences.
    public func classify(
        _ feature: [Float], rules: Thresholds, temperature: Double = IncrementalLearner.temperature, limit: Int = 5
    ) -> Answer {
        prepared(rules: rules).classify(feature, temperature: temperature, limit: limit)
    }

    /// The learner made ready for many classifications: each class's centred, unit-length
    /// centroid in one matrix, so a feature's distances to all classes are one pass of dot products.
    public func prepared(rules: Thresholds, calibration: Calibration = .standard) -> Prepared {
        let centre = centring
        let names = shells.keys.sorted()
        var matrix = [Float](repeating: 0, count: names.count * dimension)
        for (row, name) in names.enumerated() {
            let shell = shells[name]!
            let scale = 1 / Double(max(shell.count, 1))
            var centroid = shell.sum.map { $0 * scale }
            if let centre { for index in 0..<dimension { centroid[index] -= centre[index] } }
            let norm = centroid.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for index in 0..<dimension {
                matrix[row * dimension + index] = norm > 0 ? Float(centroid[index] / norm) : 0
            }
        }
        return Prepared(
            dimension: dimension, names: names, matrix: matrix,
            thresholds: [Double](repeating: threshold(rules: rules), count: names.count),
            centre: centre.map { $0.map(Float.init) }, calibration: calibration)
    }

    /// Each class's nearest other class and how far apart their centroids are (centred, as a
    /// photo is measured): classes whose centroids are closer than a photo usually is to its own
    /// are the ones a photo gets confused between.
    public func nearestOtherClass() -> [String: (label: String, distance: Double)] {
        let ready = prepared(rules: Thresholds())
        let rows = ready.names.count
        var nearest: [String: (label: String, distance: Double)] = [:]
        guard rows >= 2 else { return [:] }
        for a in 0..<rows {
            for b in 0..<rows where b != a {
                var dot: Float = 0
                for index in 0..<dimension {
                    dot += ready.matrix[a * dimension + index] * ready.matrix[b * dimension + index]
                }
                let distance = 1 - Double(dot)
                if distance < nearest[ready.names[a]]?.distance ?? .infinity {
                    nearest[ready.names[a]] = (ready.names[b], distance)
                }
            }
        }
        return nearest
    }

    public struct Prepared: Sendable {
        let dimension: Int
        let names: [String]
        let matrix: [Float]
        let thresholds: [Double]
        let centre: [Float]?
        let calibration: Calibration

        public func classify(_ feature: [Float], temperature: Double = IncrementalLearner.temperature, limit: Int = 5)
            -> Answer
        {
            let unit = IncrementalLearner.normalised(feature)
            var x = [Float](repeating: 0, count: dimension)
            for index in 0..<dimension { x[index] = Float(unit[index]) - (centre?[index] ?? 0) }
            let norm = x.withUnsafeBufferPointer { VectorMath.dot($0.baseAddress!, $0.baseAddress!, count: dimension) }
                .squareRoot()
            var ranked: [Ranked] = []
            ranked.reserveCapacity(names.count)
            matrix.withUnsafeBufferPointer { m in
                x.withUnsafeBufferPointer { x in
                    for row in names.indices {
                        let cosine =
                            norm > 0
                            ? Double(
                                VectorMath.dot(m.baseAddress! + row * dimension, x.baseAddress!, count: dimension)
                                    / norm) : 0
                        ranked.append(
                            Ranked(label: names[row], distance: 1 - cosine, threshold: thresholds[row], confidence: 0))
                    }
                }
            }
            return IncrementalLearner.answer(ranked, temperature: temperature, limit: limit, calibration: calibration)
        }
    }

    static func answer(
        _ unsorted: [Ranked], temperature: Double, limit: Int, calibration: Calibration = .standard
    ) -> Answer {
        var ranked = unsorted
        ranked.sort { ($0.distance, $0.label) < ($1.distance, $1.label) }
        // Confidence: a softmax over negative distances, so close rivals share it.
        let best = ranked.first?.distance ?? 0
        let weights = ranked.map { Foundation.exp(-($0.distance - best) / temperature) }
        let total = weights.reduce(0, +)
        for index in ranked.indices { ranked[index].confidence = weights[index] / total }
        let ratio = ranked.first.map { $0.distance / max($0.threshold, 1e-9) } ?? .infinity
        let label = ratio <= 1 ? ranked.first?.label : nil
        let lead = ranked.count > 1 ? ranked[1].distance - ranked[0].distance : 1
        let confidence = ranked.isEmpty ? 0 : calibration.probability(ratio: ratio, lead: lead)
        return Answer(
            ranked: Array(ranked.prefix(limit)), label: label, ratio: ratio, lead: lead, confidence: confidence)
    }

    // MARK: - Geometry

    /// The global mean, once there are two classes to tell apart (with one there is nothing to centre on).
    var centring: [Double]? {
        guard classCount >= 2, count > 0 else { return nil }
        return globalSum.map { $0 / Double(count) }
    }

    func distance(_ unit: [Double], to shell: Shell) -> Double {
        let centre = centring
        return Self.cosineDistance(Self.centred(unit, centre), shell, centre: centre)
    }

    static func centred(_ unit: [Double], _ centre: [Double]?) -> [Double] {
        guard let centre else { return unit }
        return zip(unit, centre).map { $0 - $1 }
    }

    /// 1 − cos between a centred feature and the shell's centred centroid: 0 same direction, 2 opposite.
    static func cosineDistance(_ centred: [Double], _ shell: Shell, centre: [Double]?) -> Double {
        let scale = 1 / Double(max(shell.count, 1))
        var dot = 0.0
        var a = 0.0
        var b = 0.0
        centred.withUnsafeBufferPointer { x in
            shell.sum.withUnsafeBufferPointer { s in
                if let centre {
                    centre.withUnsafeBufferPointer { c in
                        for index in 0..<x.count {
                            let y = s[index] * scale - c[index]
                            dot += x[index] * y
                            a += x[index] * x[index]
                            b += y * y
                        }
                    }
                } else {
                    for index in 0..<x.count {
                        let y = s[index] * scale
                        dot += x[index] * y
                        a += x[index] * x[index]
                        b += y * y
                    }
                }
            }
        }
        guard a > 0, b > 0 else { return 1 }
        return 1 - dot / (a.squareRoot() * b.squareRoot())
    }

    public static func normalised(_ feature: [Float]) -> [Double] {
        let norm = feature.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm > 0 else { return feature.map { _ in 0 } }
        return feature.map { Double($0) / norm }
    }
}
