import Foundation
import IrisML
import Testing

/// Class probabilities pushed up a small hand-made hierarchy, whose sums are known:
///
///     animal (1) ─┬─ cat (2) ── tabby (class 0), siamese (class 1)
///                 └─ dog (3) ── beagle (class 2)
///     tool (4) ── hammer (class 3)
@Suite struct SemanticFeaturesTests {
    static let hierarchy = ClassHierarchy(ancestors: [
        [10, 2, 1],  // tabby: itself (10), cat, animal
        [11, 2, 1],  // siamese
        [12, 3, 1],  // beagle
        [13, 4],  // hammer: itself, tool
    ])

    /// The value of node `node` in `features` (columns are given out in first-seen order of the sorted ids).
    static func column(_ node: Int) -> Int {
        var seen: [Int] = []
        for nodes in [[10, 2, 1], [11, 2, 1], [12, 3, 1], [13, 4]] {
            for id in Set(nodes).sorted() where !seen.contains(id) { seen.append(id) }
        }
        return seen.firstIndex(of: node)!
    }

    @Test("each class's probability counts for itself and every node above it, once")
    func sums() {
        #expect(Self.hierarchy.width == 8)
        let features = Self.hierarchy.features([0.5, 0.3, 0.2, 0], transform: .linear)
        // Before normalising: animal 1.0, cat 0.8, dog 0.2, tabby 0.5, siamese 0.3, beagle 0.2.
        let raw: [Int: Float] = [1: 1.0, 2: 0.8, 3: 0.2, 10: 0.5, 11: 0.3, 12: 0.2, 13: 0, 4: 0]
        let norm = raw.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for (node, value) in raw {
            #expect(abs(features[Self.column(node)] - value / norm) < 1e-6, "node \(node)")
        }
    }

    @Test("two cats of different breeds share more than a cat and a dog; a hammer shares nothing")
    func kinds() {
        func cosine(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        let tabby = Self.hierarchy.features([0.9, 0.05, 0.05, 0])
        let siamese = Self.hierarchy.features([0.05, 0.9, 0.05, 0])
        let beagle = Self.hierarchy.features([0.05, 0.05, 0.9, 0])
        let hammer = Self.hierarchy.features([0, 0, 0, 1])
        #expect(cosine(tabby, siamese) > cosine(tabby, beagle))
        #expect(cosine(tabby, beagle) > 0.3)
        #expect(cosine(tabby, hammer) == 0)
        // A probability under the floor adds nothing (the product stays sparse).
        #expect(Self.hierarchy.features([0, 0, 0, ClassHierarchy.floor / 2]).allSatisfy { $0 == 0 })
    }

    @Test("a node over every class tells nothing; with information weighting it counts for nothing")
    func information() {
        // The tree above has no node over all four classes; add a root over them all.
        let rooted = ClassHierarchy(ancestors: [[10, 2, 1, 0], [11, 2, 1, 0], [12, 3, 1, 0], [13, 4, 0]])
        let root = 0  // the smallest id gets the first column
        #expect(rooted.information[root] == 0)
        // animal is over three of four classes: log(4/3); a leaf: log(4).
        #expect(abs(rooted.information[1] - Float(Foundation.log(4.0 / 3.0))) < 1e-6)
        let tabby = rooted.features([1, 0, 0, 0], informative: true)
        #expect(tabby[root] == 0 && tabby.contains { $0 > 0 })
        // A photo that is surely some animal and one surely a hammer now share nothing at all.
        let hammer = rooted.features([0, 0, 0, 1], informative: true)
        #expect(zip(tabby, hammer).allSatisfy { $0 * $1 == 0 })
    }

    @Test("combined parts are unit vectors weighted, so a part's share of the cosine follows its weight")
    func combine() {
        let whole = SemanticFeatures.combine([([3, 4], 1), ([0, 0, 2], 2)])
        // [0.6, 0.8] and 2 × [0, 0, 1], then the whole made a unit vector (norm √5).
        let expected: [Float] = [0.6, 0.8, 0, 0, 2].map { $0 / Float(5).squareRoot() }
        #expect(whole.count == 5)
        #expect(zip(whole, expected).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test("the probability under a node is read back from the features, whatever their transform or scale")
    func share() throws {
        let rooted = ClassHierarchy(ancestors: [[10, 2, 1, 0], [11, 2, 1, 0], [12, 3, 1, 0], [13, 4, 0]])
        let root = try #require(rooted.root)
        #expect(rooted.nodeColumns[0] == root)
        // cat 0.6 + 0.2, dog 0.15, tool 0.05: what search reads for "cat", "dog", "tool".
        let probabilities: [Float] = [0.6, 0.2, 0.15, 0.05]
        let expected: [Int: Float] = [2: 0.8, 3: 0.15, 4: 0.05, 1: 0.95, 13: 0.05]
        for transform in ClassHierarchy.Transform.allCases {
            // Scaled as a derived model's vector scales its part (a weight, then the whole made unit).
            let features = rooted.features(probabilities, transform: transform).map { $0 * 0.37 }
            for (node, want) in expected {
                let column = try #require(rooted.nodeColumns[node])
                let read = rooted.share(features[column], root: features[root], transform: transform)
                #expect(abs(read - want) < 1e-4, "node \(node), \(transform)")
            }
        }
        #expect(rooted.share(0, root: 0, transform: .log) == 0)
    }
}
