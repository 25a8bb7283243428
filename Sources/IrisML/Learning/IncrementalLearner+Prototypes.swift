import Foundation

/// Classes named but not yet shown (zero-shot): with a vision–language model (CLIP) as the
/// learner's model, a class can be made from its name alone. Until its first photo arrives its
/// centroid is a prototype, the text embedding of "a photo of a <name>"; once photos arrive
/// they are its centroid, as for any class, and the prototype is no longer read.
extension IncrementalLearner {
    /// The words a class's prototype is made from (CLIP's usual prompt).
    public static func prompt(for name: String) -> String { "a photo of a \(name)" }

    /// `prepared(rules:calibration:)` with a row for each class of `prototypes` (name → text
    /// embedding) that has no photo yet. A photo is compared with a prototype as with a
    /// centroid, on the cosine: while the learner has no photo at all, plainly (CLIP's
    /// zero-shot comparison: the nearest name answers, there being nothing yet to say how near
    /// is near); once it has photos, each side centred on its own mean (the photos' on theirs,
    /// the prototype on `textCentre`, the mean of every class's prompt embedding), since CLIP's
    /// texts and photos lie apart, and with the learner's threshold.
    public func prepared(
        rules: Thresholds, calibration: Calibration = .standard, prototypes: [String: [Float]], textCentre: [Float]?
    ) -> Prepared {
        let ready = prepared(rules: rules, calibration: calibration)
        let named = prototypes.filter { shells[$0.key] == nil && $0.value.count == dimension }.sorted {
            $0.key < $1.key
        }
        guard !named.isEmpty else { return ready }
        let centred = ready.centre != nil && textCentre?.count == dimension
        let limit = count > 0 ? threshold(rules: rules) : 2
        var matrix = ready.matrix
        var names = ready.names
        var thresholds = ready.thresholds
        for (name, vector) in named {
            var row = vector
            if centred, let textCentre { row = zip(vector, textCentre).map { $0 - $1 } }
            matrix += Self.normalised(row).map(Float.init)
            names.append(name)
            thresholds.append(limit)
        }
        return Prepared(
            dimension: dimension, names: names, matrix: matrix, thresholds: thresholds, centre: ready.centre,
            calibration: calibration)
    }
}

extension IncrementalLearner.Prepared {
    /// Whether there is no class to answer with.
    public var isEmpty: Bool { names.isEmpty }
}
