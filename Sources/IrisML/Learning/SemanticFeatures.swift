import Foundation

/// What a photo *is*, in a class hierarchy's terms: a classifier's class probabilities pushed up
/// the hierarchy (for ImageNet, WordNet's nouns: a tabby's probability also counts for domestic
/// cat, feline, carnivore, mammal, animal…), so that photos of one kind share the upper nodes
/// even when the classifier spreads them over different leaves. An embedding places a photo by
/// what it looks like; this places it by what it is, which is what a learner's classes usually
/// name (fruit, bovid, vehicle).
public struct ClassHierarchy: Sendable {
    /// Per class (in the classifier's labels' order), the columns it adds its probability to:
    /// its own node and every node above it.
    public let columns: [[Int32]]
    /// How many nodes the hierarchy has (the features' length).
    public let width: Int
    /// Per node, how much saying a photo is under it tells: log(classes / classes under it),
    /// 0 for a node over every class ("entity"), most for a leaf (Resnik's information content,
    /// with classes counted in place of corpus words).
    public let information: [Float]
    /// Node id (a WordNet offset) → its column.
    public let nodeColumns: [Int: Int]
    /// The column of the node over the most classes (WordNet's "entity", over all of them),
    /// whose sum holds about all of a photo's probability: the scale against which any node's
    /// share is read back (`share`).
    public let root: Int?

    /// `ancestors[c]`: the nodes (any ids: WordNet offsets) of class `c` and all above it; a
    /// class whose list is empty adds to nothing.
    public init(ancestors: [[Int]]) {
        var index: [Int: Int32] = [:]
        var columns: [[Int32]] = []
        for nodes in ancestors {
            var row: [Int32] = []
            for node in Set(nodes).sorted() {
                if let known = index[node] {
                    row.append(known)
                } else {
                    let column = Int32(index.count)
                    index[node] = column
                    row.append(column)
                }
            }
            columns.append(row)
        }
        var under = [Int](repeating: 0, count: index.count)
        for row in columns { for column in row { under[Int(column)] += 1 } }
        let classes = Float(max(columns.count, 1))
        information = under.map { $0 > 0 ? Foundation.log(classes / Float($0)) : 0 }
        (self.columns, self.width) = (columns, index.count)
        nodeColumns = index.mapValues { Int($0) }
        root = under.indices.max { under[$0] < under[$1] }
    }

    /// The probability a photo's classifier put under one node, read back from the node's
    /// value and the root's in the photo's `features` (any scale: they are divided): 0 to 1.
    public func share(_ value: Float, root rootValue: Float, transform: Transform) -> Float {
        guard rootValue > 0, value > 0 else { return 0 }
        let ratio = min(1, value / rootValue)
        return switch transform {
        case .linear: ratio
        case .sqrt: ratio * ratio
        // The root's sum is about 1 (all of the probability above the floor): log1p(100).
        case .log: Foundation.expm1(ratio * Foundation.log1p(100)) / 100
        }
    }

    /// How the pushed-up probabilities are evened out before they are normalised: the upper
    /// nodes gather most of the mass, so a square root (or a log) lets the leaves still count.
    public enum Transform: String, Sendable, Codable, CaseIterable {
        case linear, sqrt, log
    }

    /// Probabilities under this are left out of the sum (a 1,000-class softmax spreads most
    /// of its classes below 1e-5; leaving them out keeps the product sparse).
    public static let floor: Float = 1e-5

    /// The unit vector of `probabilities` (one per class) pushed up the hierarchy and evened out;
    /// with `informative`, each node also weighted by its `information` (the nodes every photo
    /// shares then count for nothing).
    public func features(_ probabilities: [Float], transform: Transform = .sqrt, informative: Bool = false)
        -> [Float]
    {
        var sums = [Float](repeating: 0, count: width)
        for (classIndex, probability) in probabilities.enumerated()
        where probability >= Self.floor && classIndex < columns.count {
            for column in columns[classIndex] { sums[Int(column)] += probability }
        }
        switch transform {
        case .linear: break
        case .sqrt: for index in sums.indices { sums[index] = sums[index].squareRoot() }
        // log(1 + 100 p): about p for small p, a slow rise for the big upper nodes.
        case .log: for index in sums.indices { sums[index] = Foundation.log1p(100 * sums[index]) }
        }
        if informative { for index in sums.indices { sums[index] *= information[index] } }
        return SemanticFeatures.unit(sums)
    }
}

/// A learner's feature made of parts (an embedding, the hierarchy features, a second model's
/// embedding): each part is made a unit vector, weighted and concatenated, and the whole made
/// a unit vector again, so the parts' shares of a cosine are the weights' squares' shares.
public enum SemanticFeatures {
    public static func combine(_ parts: [(vector: [Float], weight: Float)]) -> [Float] {
        var whole: [Float] = []
        whole.reserveCapacity(parts.reduce(0) { $0 + $1.vector.count })
        for part in parts {
            whole += unit(part.vector).map { $0 * part.weight }
        }
        return unit(whole)
    }

    static func unit(_ vector: [Float]) -> [Float] {
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? vector.map { $0 / norm } : vector
    }
}
