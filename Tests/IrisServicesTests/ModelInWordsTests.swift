import IrisServices
import Testing

@testable import IrisML

/// The model page's plain words, from the learner's numbers.
@Suite("Model in words")
struct ModelInWordsTests {
    typealias Figures = ModelInWords.ClassFigures

    @Test("a class is tight, usual or spread out next to the pooled noise, and unmeasured below 3 photos")
    func spread() {
        // setup: the learner's photos lie 0.40 ± 0.10 from their classes
        let pooled = (mean: 0.40, std: 0.10)
        func spread(_ mean: Double, photos: Int = 20) -> ModelInWords.Spread {
            ModelInWords.spread(
                of: Figures(count: photos, noiseMean: mean, noiseStd: 0.05, noiseSamples: photos - 1),
                pooledMean: pooled.mean, pooledStd: pooled.std)
        }
        // check
        #expect(spread(0.30) == .tight)
        #expect(spread(0.36) == .usual)
        #expect(spread(0.44) == .usual)
        #expect(spread(0.50) == .spreadOut)
        #expect(spread(0.10, photos: 2) == .unmeasured)
    }

    @Test("the reading says how many photos and when the class answers, against the one threshold")
    func reading() {
        // setup: a threshold of 0.50 over pooled noise 0.40 ± 0.10
        func reading(_ mean: Double, _ std: Double, photos: Int = 35) -> ModelInWords.ClassReading {
            ModelInWords.reading(
                of: Figures(count: photos, noiseMean: mean, noiseStd: std, noiseSamples: photos - 1),
                threshold: 0.50, pooledMean: 0.40, pooledStd: 0.10)
        }
        // act
        let tight = reading(0.30, 0.05)
        let usual = reading(0.45, 0.10)
        let loose = reading(0.60, 0.05)
        let one = reading(0, 0, photos: 1)
        // check
        #expect(tight.summary == "35 photos · answers for most photos like its own")
        #expect(tight.spread == .tight && tight.spreadText.hasPrefix("Tight:"))
        #expect(usual.summary == "35 photos · answers when a photo is about as close as its own usually are")
        #expect(loose.summary == "35 photos · answers only when closer than usual for this class")
        #expect(loose.spread == .spreadOut)
        #expect(one.summary == "1 photo · too few photos to tell when it answers" && one.spread == .unmeasured)
    }

    @Test("a classification is one sentence with one percentage, or unknown with its nearest class")
    func sentence() {
        func ranked(_ label: String, _ distance: Double) -> IncrementalLearner.Ranked {
            .init(label: label, distance: distance, threshold: 0.5, confidence: 0.5)
        }
        // setup
        let sure = IncrementalLearner.Answer(
            ranked: [ranked("bird", 0.2), ranked("mammal", 0.45)], label: "bird", ratio: 0.4, lead: 0.25,
            confidence: 0.912)
        let tied = IncrementalLearner.Answer(
            ranked: [ranked("fruit", 0.30), ranked("vegetable", 0.33)], label: "fruit", ratio: 0.6, lead: 0.03,
            confidence: 0.55)
        let unknown = IncrementalLearner.Answer(
            ranked: [ranked("bovid", 0.7), ranked("bird", 0.9)], label: nil, ratio: 1.4, lead: 0.2, confidence: 0.2)
        let far = IncrementalLearner.Answer(
            ranked: [ranked("bovid", 1.2)], label: nil, ratio: 2.4, lead: 1, confidence: 0.01)
        let certain = IncrementalLearner.Answer(
            ranked: [ranked("bird", 0.0)], label: "bird", ratio: 0, lead: 1, confidence: 0.999)
        // check
        #expect(ModelInWords.sentence(for: sure) == "bird, 91% sure")
        #expect(ModelInWords.sentence(for: tied) == "fruit, 55% sure; vegetable is nearly as close")
        #expect(
            ModelInWords.sentence(for: unknown)
                == "unknown — nearest class bovid, but further than its photos usually are")
        #expect(
            ModelInWords.sentence(for: far)
                == "unknown — nearest class bovid, but much further than its photos usually are")
        #expect(ModelInWords.sentence(for: certain) == "bird, 99% sure")
    }

    @Test("classes are confused when two photos and a tenth of a class went to the other, either way round")
    func confusion() {
        // setup: rows are true classes, the last column unknown
        let labels = ["bird", "mammal", "bovid"]
        let confusion = [
            [18, 1, 0, 1],
            [0, 20, 5, 0],
            [0, 2, 30, 1],
        ]
        // act
        let pairs = ModelInWords.confusedPairs(labels: labels, confusion: confusion)
        // check: mammal → bovid 5 of 25; bird → mammal only once
        #expect(pairs == ["mammal": ["bovid"], "bovid": ["mammal"]])
    }

    @Test("without a test, classes whose centroids are nearer than photos to their own class are close")
    func closeByDistance() {
        let nearest: [String: (label: String, distance: Double)] = [
            "fruit": ("vegetable", 0.3), "vegetable": ("fruit", 0.3), "tool": ("fruit", 0.9),
        ]
        #expect(
            ModelInWords.closeClasses(nearest: nearest, pooledMean: 0.5) == [
                "fruit": ["vegetable"], "vegetable": ["fruit"],
            ])
    }

    @Test("the learner's classes in words: counts, spread and the confused classes from centroids")
    func learnerWords() {
        // setup: two classes along one axis, close together, and one far off; three photos each
        var learner = IncrementalLearner(dimension: 3)
        for feature: [Float] in [[1, 0.10, 0], [1, 0.12, 0.02], [1, 0.08, 0.01]] { learner.add(feature, to: "fruit") }
        for feature: [Float] in [[1, 0.14, 0], [1, 0.16, 0.02], [1, 0.12, 0.01]] {
            learner.add(feature, to: "vegetable")
        }
        for feature: [Float] in [[0, 0, 1], [0.05, 0, 1], [0, 0.05, 1]] { learner.add(feature, to: "tool") }
        // act
        let words = ModelInWords.classWords(learner, threshold: 0.8, latestTest: nil)
        // check
        #expect(words["fruit"]?.reading.summary.hasPrefix("3 photos · ") == true)
        #expect(words["fruit"]?.confusedWith == ["vegetable"] && words["fruit"]?.confusionFrom == "distance")
        #expect(words["tool"]?.confusedWith == [])
    }

    @Test("the Wilson interval, and the cautions below 30 photos per class")
    func reliability() {
        // check: 80% of 30 is 63–90%, of 10 is 49–94%
        let thirty = ModelInWords.wilson(correct: 24, total: 30)
        #expect(abs(thirty.low - 0.627) < 0.001 && abs(thirty.high - 0.905) < 0.001)
        let ten = ModelInWords.wilson(correct: 8, total: 10)
        #expect(abs(ten.low - 0.490) < 0.001 && abs(ten.high - 0.943) < 0.001)
        let none = ModelInWords.wilson(correct: 0, total: 0)
        #expect(none.low == 0 && none.high == 1)
        #expect(
            ModelInWords.testCaution(supports: [40, 6, 31])
                == "Not reliable: a class had only 6 test photos (at least 30 per class are needed for figures to trust)."
        )
        #expect(ModelInWords.testCaution(supports: [30, 45]) == nil)
        #expect(
            ModelInWords.trainingCaution(photos: 36, classes: 3)?.hasPrefix("Not reliable: about 12 photos per class")
                == true)
        #expect(ModelInWords.trainingCaution(photos: 300, classes: 3) == nil)
    }
}
