import Foundation

/// A multinomial logistic-regression head over embeddings, trained in Swift: mini-batch
/// Adam on the cross-entropy with balanced class weights and L2, a stratified validation
/// split, and early stopping on the validation loss (the best epoch's weights are kept).
public struct SoftmaxRegression: Sendable, Codable, Equatable {
    public var classes: [String]
    public var dimension: Int
    /// Subtracted from each normalised feature before the linear layer.
    public var mean: [Float]
    /// Row-major [classes × dimension].
    public var weights: [Float]
    public var bias: [Float]

    public struct Options: Sendable {
        public var l2: Float = 1e-4
        public var learningRate: Float = 0.01
        public var batchSize = 128
        public var maxEpochs = 60
        public var patience = 4
        public var validationShare = 0.15
        public var seed: UInt64 = 42
        /// Threads one batch's gradient is split over.
        public var threads = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 4))
        /// Below this many examples, refit on training + validation after early stopping.
        public var refitBelow = 5000
        public init() {}
    }

    public struct Epoch: Sendable, Equatable {
        public var epoch: Int
        public var trainLoss: Double
        public var validationLoss: Double
        public var validationAccuracy: Double
    }

    public struct Report: Sendable {
        public var epochs: [Epoch]
        public var bestEpoch: Int
        public var trainCount: Int
        public var validationCount: Int
        /// The final head was refit on training and validation examples together.
        public var refit: Bool
    }

    /// Trains on `features` (any scale; normalised here) with `labels` as indexes into `classes`.
    public static func train(
        features: [[Float]], labels: [Int], classes: [String], options: Options = Options(),
        progress: (@Sendable (Epoch) -> Void)? = nil
    ) throws -> (model: SoftmaxRegression, report: Report) {
        guard let dimension = features.first?.count, features.count == labels.count else {
            throw LearningError("there are no labelled embeddings to train on")
        }
        guard classes.count >= 2 else {
            throw LearningError("training needs at least two classes; there is \(classes.count)")
        }
        var rng = SplitMix(seed: options.seed)
        // Stratified split: a share of each class validates, at least one when it has two or more.
        var byClass: [Int: [Int]] = [:]
        for (index, label) in labels.enumerated() { byClass[label, default: []].append(index) }
        var train: [Int] = []
        var validation: [Int] = []
        for label in byClass.keys.sorted() {
            var members = byClass[label]!
            rng.shuffle(&members)
            let held = members.count >= 2 ? max(1, Int((Double(members.count) * options.validationShare).rounded())) : 0
            validation += members.prefix(held)
            train += members.dropFirst(held)
        }
        let units = features.map { IncrementalLearner.normalised($0).map(Float.init) }
        var mean = [Float](repeating: 0, count: dimension)
        for index in train { for d in 0..<dimension { mean[d] += units[index][d] } }
        for d in 0..<dimension { mean[d] /= Float(max(train.count, 1)) }
        let x = units.map { zip($0, mean).map { $0 - $1 } }

        let initial = SoftmaxRegression(
            classes: classes, dimension: dimension, mean: mean,
            weights: [Float](repeating: 0, count: classes.count * dimension),
            bias: [Float](repeating: 0, count: classes.count))

        /// Adam epochs over `indexes`; with a validation set, stops early and answers the best epoch's weights.
        func fit(_ indexes: [Int], maxEpochs: Int, validation: [Int], report: Bool) -> (
            model: SoftmaxRegression, epochs: [Epoch], best: Int
        ) {
            // Balanced weights: each class weighs the same in the loss however many examples it has.
            var counts = [Int](repeating: 0, count: classes.count)
            for index in indexes { counts[labels[index]] += 1 }
            let classWeight = counts.map { $0 > 0 ? Float(indexes.count) / Float(classes.count * $0) : 0 }
            var model = initial
            var adam = Adam(count: model.weights.count + model.bias.count, rate: options.learningRate)
            var best = model
            var bestLoss = Double.infinity
            var bestEpoch = maxEpochs
            var epochs: [Epoch] = []
            var order = indexes
            // Small sets get smaller batches: enough steps per epoch to learn from a few examples.
            let batchSize = min(options.batchSize, max(8, indexes.count / 8))
            for epoch in 1...max(maxEpochs, 1) {
                rng.shuffle(&order)
                var lossSum = 0.0
                for start in stride(from: 0, to: order.count, by: batchSize) {
                    let batch = Array(order[start..<min(start + batchSize, order.count)])
                    // The batch split over threads, each into its own gradient, then summed.
                    let parts = options.threads
                    let partials = BatchParts(count: parts)
                    let snapshot = model
                    DispatchQueue.concurrentPerform(iterations: parts) { part in
                        var gradient = [Float](repeating: 0, count: snapshot.weights.count + snapshot.bias.count)
                        var weightSum: Float = 0
                        var loss = 0.0
                        for position in stride(from: part, to: batch.count, by: parts) {
                            let index = batch[position]
                            let w = classWeight[labels[index]]
                            weightSum += w
                            var p = snapshot.probabilities(centred: x[index])
                            loss += Double(-w * Foundation.log(max(p[labels[index]], 1e-12)))
                            p[labels[index]] -= 1
                            snapshot.accumulate(gradient: &gradient, x: x[index], error: p, scale: w)
                        }
                        partials.set(part, gradient: gradient, weight: weightSum, loss: loss)
                    }
                    var (gradient, weightSum, batchLoss) = partials.total()
                    lossSum += batchLoss
                    let scale = 1 / max(weightSum, 1e-9)
                    for index in 0..<model.weights.count {
                        gradient[index] = gradient[index] * scale + options.l2 * model.weights[index]
                    }
                    for index in model.weights.count..<gradient.count { gradient[index] *= scale }
                    adam.step(&model, gradient)
                }
                let trainLoss = lossSum / Double(max(order.count, 1))
                let (validationLoss, validationAccuracy) =
                    validation.isEmpty ? (trainLoss, 0) : model.loss(x: x, labels: labels, indexes: validation)
                let record = Epoch(
                    epoch: epoch, trainLoss: trainLoss, validationLoss: validationLoss,
                    validationAccuracy: validationAccuracy)
                epochs.append(record)
                if report { progress?(record) }
                guard !validation.isEmpty else {
                    best = model
                    continue
                }
                if validationLoss < bestLoss - 1e-5 {
                    bestLoss = validationLoss
                    best = model
                    bestEpoch = epoch
                } else if epoch - bestEpoch >= options.patience {
                    break
                }
            }
            return (best, epochs, validation.isEmpty ? epochs.count : bestEpoch)
        }

        let (validated, epochs, bestEpoch) = fit(
            train, maxEpochs: options.maxEpochs, validation: validation, report: true)
        // Small sets: every example counts, so the final head is refit on training and
        // validation images together for the epochs validation chose.
        if !validation.isEmpty, train.count + validation.count < options.refitBelow {
            let (refit, _, _) = fit(train + validation, maxEpochs: bestEpoch, validation: [], report: false)
            return (
                refit,
                Report(
                    epochs: epochs, bestEpoch: bestEpoch, trainCount: train.count, validationCount: validation.count,
                    refit: true)
            )
        }
        return (
            validated,
            Report(
                epochs: epochs, bestEpoch: bestEpoch, trainCount: train.count, validationCount: validation.count,
                refit: false)
        )
    }

    /// Class probabilities for one raw feature.
    public func predict(_ feature: [Float]) -> [Double] {
        let unit = IncrementalLearner.normalised(feature)
        var centred = [Float](repeating: 0, count: dimension)
        for d in 0..<dimension { centred[d] = Float(unit[d]) - mean[d] }
        return probabilities(centred: centred).map(Double.init)
    }

    /// Classes by probability, most likely first.
    public func ranked(_ feature: [Float]) -> [(label: String, probability: Double)] {
        let p = predict(feature)
        return p.indices.sorted { p[$0] > p[$1] }.map { (classes[$0], p[$0]) }
    }

    func probabilities(centred x: [Float]) -> [Float] {
        var logits = bias
        x.withUnsafeBufferPointer { x in
            weights.withUnsafeBufferPointer { w in
                for k in 0..<classes.count {
                    logits[k] += VectorMath.dot(w.baseAddress! + k * dimension, x.baseAddress!, count: dimension)
                }
            }
        }
        let top = logits.max() ?? 0
        var total: Float = 0
        for k in logits.indices {
            logits[k] = Foundation.exp(logits[k] - top)
            total += logits[k]
        }
        return logits.map { $0 / total }
    }

    func accumulate(gradient: inout [Float], x: [Float], error: [Float], scale: Float) {
        let biasOffset = weights.count
        gradient.withUnsafeMutableBufferPointer { g in
            x.withUnsafeBufferPointer { x in
                for k in 0..<classes.count {
                    let e = error[k] * scale
                    guard e != 0 else { continue }
                    let row = k * dimension
                    for d in 0..<dimension { g[row + d] += e * x[d] }
                    g[biasOffset + k] += e
                }
            }
        }
    }

    func loss(x: [[Float]], labels: [Int], indexes: [Int]) -> (loss: Double, accuracy: Double) {
        var loss = 0.0
        var correct = 0
        for index in indexes {
            let p = probabilities(centred: x[index])
            loss -= Double(Foundation.log(max(p[labels[index]], 1e-12)))
            if p.indices.max(by: { p[$0] < p[$1] }) == labels[index] { correct += 1 }
        }
        return (loss / Double(indexes.count), Double(correct) / Double(indexes.count))
    }
}

/// Each thread's share of one batch: its gradient, class-weight sum and loss.
final class BatchParts: @unchecked Sendable {
    private var gradients: [[Float]?]
    private var weights: [Float]
    private var losses: [Double]
    private let lock = NSLock()

    init(count: Int) {
        gradients = Array(repeating: nil, count: count)
        weights = Array(repeating: 0, count: count)
        losses = Array(repeating: 0, count: count)
    }

    func set(_ part: Int, gradient: [Float], weight: Float, loss: Double) {
        lock.lock()
        defer { lock.unlock() }
        gradients[part] = gradient
        weights[part] = weight
        losses[part] = loss
    }

    func total() -> (gradient: [Float], weight: Float, loss: Double) {
        lock.lock()
        defer { lock.unlock() }
        var sum = gradients[0] ?? []
        for part in gradients.dropFirst() {
            guard let part else { continue }
            for index in sum.indices { sum[index] += part[index] }
        }
        return (sum, weights.reduce(0, +), losses.reduce(0, +))
    }
}

/// Adam over the weights then the biases, as one flat vector.
struct Adam {
    var m: [Float], v: [Float]
    var t: Float = 0
    let rate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8

    init(count: Int, rate: Float) {
        m = [Float](repeating: 0, count: count)
        v = m
        self.rate = rate
    }

    mutating func step(_ model: inout SoftmaxRegression, _ gradient: [Float]) {
        t += 1
        let correction1 = 1 - Foundation.pow(beta1, t)
        let correction2 = 1 - Foundation.pow(beta2, t)
        let split = model.weights.count
        for index in gradient.indices {
            m[index] = beta1 * m[index] + (1 - beta1) * gradient[index]
            v[index] = beta2 * v[index] + (1 - beta2) * gradient[index] * gradient[index]
            let change = rate * (m[index] / correction1) / ((v[index] / correction2).squareRoot() + epsilon)
            if index < split { model.weights[index] -= change } else { model.bias[index - split] -= change }
        }
    }
}

/// A small deterministic generator, so a training run can be repeated exactly.
public struct SplitMix: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func shuffle<T>(_ values: inout [T]) { values.shuffle(using: &self) }
}

public struct LearningError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
