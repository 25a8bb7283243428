import Foundation

/// How the learner's accuracy grows with the photos each class has, and how many a class needs
/// before more stop helping: the "number that would help" of the label check's small classes.
///
/// Drawn from labelled photos of the classes that have enough to spare (`sizes.last` to train
/// plus `minimumHeldOut` to test): in each seeded repeat every such class's photos are shuffled,
/// the first `n` train the learner's rule (the nearest class mean, `LabelNext.ClassMeans`) for
/// each `n` in `sizes` (nested: the 3 photos of n = 3 are among the 5 of n = 5, which keeps the
/// curve from zigzagging on which photos were drawn) and the rest of the class (at most
/// `maximumHeldOut`) is what it is scored on. A class *has enough* at the smallest `n` whose
/// mean accuracy is within `tolerance` of the curve's best: past it the curve is flat within
/// the noise of a few repeats.
///
/// The work is bounded whatever the project's size: at most `maximumClasses` classes (a seeded
/// sample), at most `sizes.last + maximumHeldOut` photos of each, `repeats` times: about
/// 400 test photos × 20 classes × 8 sizes × 5 repeats = 320,000 dot products.
public enum LearningCurve {
    public struct Point: Sendable, Codable, Equatable {
        /// Training photos per class, and the nearest class mean's accuracy on held-out photos.
        public var photos: Int
        public var accuracy: Double

        public init(photos: Int, accuracy: Double) { (self.photos, self.accuracy) = (photos, accuracy) }
    }

    public static let sizes = [1, 2, 3, 5, 8, 10, 15, 20]
    public static let minimumHeldOut = 4
    public static let maximumHeldOut = 20
    /// Fewer classes with `sizes.last + minimumHeldOut` photos and there is no curve to draw
    /// (with two, any one photo tells them apart and the curve is flat from the start).
    public static let minimumClasses = 3
    public static let maximumClasses = 20
    public static let repeats = 5
    /// Accuracy points (0.02 = 2 points) within which a size counts as the curve's best.
    public static let tolerance = 0.02

    /// The curve on the photo evaluation set (216 photos in 9 classes, of which the 4 with 24
    /// photos or more draw it: bird, flower, fruit, mammal; the default learner model
    /// `mobilenet-v2-wordnet`, 50 repeats; `iris learn label-quality`, docs/LEARNING.md,
    /// 2026-12-07): the fallback for a project without `minimumClasses` classes large enough to
    /// draw its own. It levels off at 5 photos per class.
    public static let photoSet: [Point] = [
        Point(photos: 1, accuracy: 0.835), Point(photos: 2, accuracy: 0.894), Point(photos: 3, accuracy: 0.912),
        Point(photos: 5, accuracy: 0.931), Point(photos: 8, accuracy: 0.939), Point(photos: 10, accuracy: 0.940),
        Point(photos: 15, accuracy: 0.939), Point(photos: 20, accuracy: 0.939),
    ]

    /// The curve over photos with L2-normalised `features` and one class each (`labels`), or nil
    /// when fewer than `minimumClasses` classes have enough photos to draw it.
    public static func measure(
        features: [[Float]], labels: [Int], repeats: Int = repeats, seed: UInt64 = 1,
        isCancelled: () -> Bool = { false }
    ) throws -> [Point]? {
        precondition(features.count == labels.count)
        let largest = sizes.last ?? 1
        var members: [Int: [Int]] = [:]
        for index in labels.indices { members[labels[index], default: []].append(index) }
        let eligible = members.keys.filter { (members[$0]?.count ?? 0) >= largest + minimumHeldOut }.sorted()
        guard eligible.count >= minimumClasses else { return nil }
        var rng = SplitMix(seed: seed)
        let classes = LabelNext.sample(0..<eligible.count, count: maximumClasses, using: &rng).map { eligible[$0] }
        var sums = [Double](repeating: 0, count: sizes.count)
        for _ in 0..<repeats {
            if isCancelled() { throw CancellationError() }
            // Per class: up to `largest + maximumHeldOut` of its photos in a random order.
            let drawn = classes.map { label -> [Int] in
                let all = members[label] ?? []
                return LabelNext.sample(0..<all.count, count: largest + maximumHeldOut, using: &rng)
                    .shuffled(using: &rng).map { all[$0] }
            }
            let test = zip(classes, drawn).flatMap { label, photos in photos.dropFirst(largest).map { ($0, label) } }
            for (position, n) in sizes.enumerated() {
                var taught: [(feature: [Float], label: Int)] = []
                for (label, photos) in zip(classes, drawn) {
                    for index in photos.prefix(n) { taught.append((features[index], label)) }
                }
                let model = LabelNext.ClassMeans(taught)
                let right = test.filter { model.ranked(features[$0.0]).first?.label == $0.1 }.count
                sums[position] += Double(right) / Double(max(test.count, 1))
            }
        }
        return zip(sizes, sums).map { Point(photos: $0, accuracy: $1 / Double(repeats)) }
    }

    /// The smallest size whose accuracy is within `tolerance` of the curve's best (nil for an
    /// empty curve).
    public static func enough(_ curve: [Point], tolerance: Double = tolerance) -> Int? {
        guard let best = curve.map(\.accuracy).max() else { return nil }
        return curve.first { $0.accuracy >= best - tolerance }?.photos
    }
}
