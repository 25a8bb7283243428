import Foundation
import IrisServices
import IrisTesting
import Testing

/// Text queries: WordNet's nouns lead from a word to the ImageNet classes beneath it.
@Suite("Text queries")
struct TextQueryTests {
    static let wordnetFolder = URL(fileURLWithPath: "/usr/share/wordnet")

    static func vocabulary() throws -> SearchVocabulary {
        try SearchVocabulary.load(wordnet: wordnetFolder, models: TestModels.folder)
    }

    @Test("a word reaches the classes beneath it, with the path; phrases and plurals are one term")
    func vocabularyReachesClasses() throws {
        let vocabulary = try Self.vocabulary()
        func labels(_ word: String) -> [String: [String]] {
            let synsets = vocabulary.wordnet.synsets(named: word)
            return Dictionary(
                vocabulary.classes(for: synsets).map { (vocabulary.labels[$0.index], vocabulary.words($0.path)) },
                uniquingKeysWith: { a, _ in a })
        }
        let dogs = labels("dog")
        #expect(dogs["malamute, malemute, Alaskan malamute"]?.first == "malamute")
        #expect(dogs["malamute, malemute, Alaskan malamute"]?.last == "dog")
        #expect(dogs.count > 100 && dogs["hotdog, hot dog, red hot"] == nil)  // the sausage is another sense
        #expect(labels("mammal")["tabby, tabby cat"] != nil && labels("mammal")["goldfish, Carassius auratus"] == nil)
        #expect(labels("furniture")["rocking chair, rocker"] != nil)
        #expect(labels("musical instrument")["grand piano, grand"] != nil)
        // The bird and the machine: both are classes (both labelled "crane").
        #expect(vocabulary.classes(for: vocabulary.wordnet.synsets(named: "crane")).count == 2)
        let query = TextQuery("Show me a photo of Musical Instruments on horses", wordnet: vocabulary.wordnet)
        #expect(query.terms.map(\.text) == ["musical instruments", "horses"])
        #expect(query.terms.allSatisfy { !$0.synsets.isEmpty })
        #expect(TextQuery("a place of worship", wordnet: vocabulary.wordnet).terms.map(\.text) == ["place of worship"])
        #expect(TextQuery("the of a", wordnet: vocabulary.wordnet).terms.isEmpty)
    }
}
