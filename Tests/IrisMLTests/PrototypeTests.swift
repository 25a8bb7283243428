import Foundation
import IrisML
import Testing

/// Classes named but not yet shown: a prototype (a text embedding) stands for a class until
/// its first photo arrives. Vectors here are made by hand, so every cosine is known.
@Suite("Zero-shot prototypes")
struct PrototypeTests {
    static func unit(_ values: [Float]) -> [Float] {
        let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return values.map { $0 / norm }
    }

    @Test("with no photo at all, the nearest prototype answers, on the plain cosine")
    func namesAlone() {
        let learner = IncrementalLearner(dimension: 3)
        let prototypes = ["dog": Self.unit([1, 0.2, 0]), "cat": Self.unit([0, 1, 0.3])]
        let ready = learner.prepared(rules: .init(), prototypes: prototypes, textCentre: nil)
        #expect(!ready.isEmpty)
        let photo = Self.unit([0.9, 0.1, 0.4])
        let answer = ready.classify(photo)
        #expect(answer.label == "dog")
        let cosine = zip(photo, prototypes["dog"]!).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        #expect(abs(answer.ranked[0].distance - (1 - Double(cosine))) < 1e-6)
        #expect(answer.ranked.map(\.label) == ["dog", "cat"])
    }

    @Test("a class's photos replace its prototype; other names keep theirs, centred on the prompts' mean")
    func photosTakeOver() {
        var learner = IncrementalLearner(dimension: 3)
        learner.add([0, 0, 1], to: "dog")
        learner.add([0.1, 0, 1], to: "dog")
        learner.add([1, 0, 0], to: "bird")
        let prototypes = ["dog": Self.unit([1, 0.2, 0]), "cat": Self.unit([0, 1, 0.3])]
        let centre: [Float] = [0.5, 0.5, 0.2]
        let ready = learner.prepared(rules: .init(), prototypes: prototypes, textCentre: centre)
        // dog answers by its photos (the prototype points elsewhere), cat by its prompt.
        let answer = ready.classify([0.05, 0, 1])
        #expect(answer.ranked[0].label == "dog" && answer.ranked[0].distance < 0.01)
        #expect(Set(answer.ranked.map(\.label)) == ["dog", "bird", "cat"])
        // The cat row is the prompt less the prompts' mean, against the photo less the photos' mean.
        let members = [[0, 0, 1], Self.unit([0.1, 0, 1]), [1, 0, 0]]
        let photoCentre = (0..<3).map { index in members.reduce(Float(0)) { $0 + $1[index] } / 3 }
        let photo = Self.unit([0, 1, 0])
        let x = zip(photo, photoCentre).map { $0 - $1 }
        let cat = zip(prototypes["cat"]!, centre).map { $0 - $1 }
        let cosine = Double(zip(Self.unit(x), Self.unit(cat)).reduce(Float(0)) { $0 + $1.0 * $1.1 })
        let ranked = ready.classify(photo).ranked.first { $0.label == "cat" }
        #expect(abs((ranked?.distance ?? 9) - (1 - cosine)) < 1e-5)
    }
}
