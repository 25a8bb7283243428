public import Foundation
import IrisCore
public import IrisML
public import IrisStore

/// WordNet and the classes of the ImageNet models, joined: for each WordNet noun synset,
/// the classes beneath it (by hypernyms) with the path up to it. Built once from WordNet's
/// files and the labels and WordNet ids of the ImageNet classes (`models/imagenet-labels.txt`
/// and `models/imagenet-wnids.txt`, the same order).
public struct SearchVocabulary: Sendable {
    public let wordnet: WordNet
    /// Each class's label line, as classification results store it (`tabby, tabby cat`).
    public let labels: [String]
    /// Synset offset → (class index, the synsets from the class up to it, both ends included).
    let below: [Int: [(index: Int, path: [Int])]]

    public init(wordnet: WordNet, labels: [String], wnids: [String]) throws {
        guard labels.count == wnids.count, !labels.isEmpty else {
            throw WordNet.Missing(
                description: "the ImageNet labels (\(labels.count)) and WordNet ids (\(wnids.count)) do not match")
        }
        var below: [Int: [(index: Int, path: [Int])]] = [:]
        for (index, wnid) in wnids.enumerated() {
            guard wnid.hasPrefix("n"), let offset = Int(wnid.dropFirst()), wordnet.synsets[offset] != nil else {
                continue
            }
            for (ancestor, path) in wordnet.ancestors(of: offset) {
                below[ancestor, default: []].append((index, [offset] + path))
            }
        }
        (self.wordnet, self.labels, self.below) = (wordnet, labels, below)
    }

    /// Loads WordNet from `folder` and the class lists from the models folder, once per
    /// process for the same folders (every server of a test run shares it).
    public static func load(wordnet folder: URL, models: URL) throws -> SearchVocabulary {
        let key = folder.standardizedFileURL.path + "|" + models.standardizedFileURL.path
        loading.lock()
        defer { loading.unlock() }
        if let known = loaded[key] { return known }
        let made = try make(wordnet: folder, models: models)
        loaded[key] = made
        return made
    }

    private static let loading = NSLock()
    nonisolated(unsafe) private static var loaded: [String: SearchVocabulary] = [:]

    static func make(wordnet folder: URL, models: URL) throws -> SearchVocabulary {
        func lines(_ name: String) throws -> [String] {
            let url = models.appendingPathComponent(name)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw WordNet.Missing(description: "\(name) is not in the models folder (run make run's set-up)")
            }
            return text.split(separator: "\n").map(String.init)
        }
        return try SearchVocabulary(
            wordnet: try WordNet(folder: folder), labels: try lines("imagenet-labels.txt"),
            wnids: try lines("imagenet-wnids.txt"))
    }

    /// The classes beneath a term's senses: the most common sense that has any, and every
    /// sense that is itself a class ("crane" the bird and the machine).
    public func classes(for synsets: [Int]) -> [(index: Int, path: [Int])] {
        var found: [Int: [Int]] = [:]
        if let first = synsets.first(where: { below[$0] != nil }) {
            for entry in below[first] ?? [] where found[entry.index] == nil { found[entry.index] = entry.path }
        }
        for synset in synsets {
            for entry in below[synset] ?? [] where entry.path.count == 1 && found[entry.index] == nil {
                found[entry.index] = entry.path
            }
        }
        return found.map { ($0.key, $0.value) }.sorted { $0.index < $1.index }
    }

    /// The ImageNet classes under WordNet's noun hierarchy: each class adds its probability to
    /// its own synset and every synset above it (semantic features for the learner and search).
    public func classHierarchy() -> ClassHierarchy {
        var ancestors = [[Int]](repeating: [], count: labels.count)
        for (synset, entries) in below {
            for entry in entries where entry.index < ancestors.count { ancestors[entry.index].append(synset) }
        }
        return ClassHierarchy(ancestors: ancestors)
    }

    /// The first word of each synset on a path: `tabby ⊂ domestic cat ⊂ … ⊂ mammal`.
    public func words(_ path: [Int]) -> [String] { path.compactMap { wordnet.synsets[$0]?.words.first } }
}

/// A text query split into terms: the longest runs of words WordNet knows as a noun
/// ("musical instrument", "place of worship"), then single words; filler words dropped.
public struct TextQuery: Sendable, Equatable {
    public struct Term: Sendable, Equatable {
        public var text: String
        /// WordNet noun synsets it names, most common first (empty: a plain word).
        public var synsets: [Int]
    }

    public var terms: [Term]

    public static let maxLength = 200
    public static let maxTerms = 12
    static let fillers: Set<String> = [
        "a", "an", "the", "of", "on", "in", "at", "to", "for", "with", "and", "or", "by", "from", "some", "any",
        "something", "thing", "things", "photo", "photos", "picture", "pictures", "image", "images", "show", "find",
        "me", "my", "is", "are", "that", "this", "there",
    ]

    /// Splits `text` (already checked for length and control characters) into terms.
    public init(_ text: String, wordnet: WordNet) {
        let words = text.lowercased().split { !($0.isLetter || $0.isNumber || $0 == "'" || $0 == "-") }.map(String.init)
        var terms: [Term] = []
        var position = 0
        while position < words.count, terms.count < Self.maxTerms {
            var matched = false
            for length in stride(from: min(4, words.count - position), through: 2, by: -1) {
                let phrase = words[position..<position + length].joined(separator: " ")
                let synsets = wordnet.synsets(named: phrase)
                if !synsets.isEmpty {
                    terms.append(Term(text: phrase, synsets: synsets))
                    position += length
                    matched = true
                    break
                }
            }
            if matched { continue }
            let word = words[position]
            position += 1
            if Self.fillers.contains(word) { continue }
            terms.append(Term(text: word, synsets: wordnet.synsets(named: word)))
        }
        self.terms = terms
    }
}

/// Text search over what Iris knows of each image: the classes its ImageNet models gave it,
/// reached from the query through WordNet ("mammal" finds a tabby cat: tabby ⊂ domestic cat ⊂
/// … ⊂ mammal), its human and learner labels (by name, or by WordNet when the label is a noun
/// beneath the term), and the text read in it. Each term scores an image from 0 to 1 by its
/// best evidence: the sum of the probabilities of its model labels beneath the term, 1 for a
/// matching label, 1 for the word printed in it; an image's score is the mean over the terms,
/// so every word counts. Every result says why it matched.
public struct TextSearch: Sendable {
    let store: IrisStore
    let models: ModelRegistry
    let vocabulary: @Sendable () async throws -> SearchVocabulary
    /// The classes in a sentence-embedding space; nil when the sentence model is not installed
    /// or still loading (then only words WordNet, labels or text hold are found).
    let semantic: @Sendable () async -> SemanticClasses?
    let moderationThreshold: Double
    /// The images' embeddings, for a vision–language pair's evidence (nil: none is used).
    let indexes: EmbeddingIndexes?

    public init(
        store: IrisStore, models: ModelRegistry, moderationThreshold: Double,
        vocabulary: @escaping @Sendable () async throws -> SearchVocabulary,
        semantic: @escaping @Sendable () async -> SemanticClasses? = { nil }, indexes: EmbeddingIndexes? = nil
    ) {
        (self.store, self.models, self.moderationThreshold, self.vocabulary) = (
            store, models, moderationThreshold, vocabulary
        )
        self.semantic = semantic
        self.indexes = indexes
    }

    /// With a vision–language pair (CLIP) installed: how many images nearest the query's text
    /// embedding count as evidence, and how much they add to the other evidence's score s:
    /// s + w × v × (1 − s), v from 0.05 (the last of them) to 1 (the nearest) by cosine. Not
    /// measured (no CLIP weights can be fetched here): chosen so that a full match of the
    /// words still ranks above a picture alone, and a picture alone above meaning alone.
    public static let visionCandidates = 200
    public static let visionWeight = 0.6

    /// Classes at least this similar to the query (cosine, sentence space) count, the best
    /// `semanticClasses` of them; nonsense such as "qwxz blorf" tops out near 0.3.
    public static let classSimilarity: Float = 0.4
    public static let semanticClasses = 10
    /// Labels at least this similar to the query count.
    public static let labelSimilarity: Float = 0.6
    /// How much the meaning adds to the words' score s: s + w × meaning × (1 − s), so a full
    /// match stays 1 and meaning alone gives at most w. On make bench's quality set this gave
    /// recall@5 0.797 / 0.703 on the odd / even queries where taking the better of the two
    /// gave 0.767 / 0.687 (the weight was chosen on the odd ones; 0.25–0.35 tie).
    public static let meaningWeight = 0.25
    /// How much a photo's share of probability under a term's WordNet node adds to the score s:
    /// s + w × share × (1 − s). The share is read from the semantic features' hierarchy part
    /// (`mobilenet-v2-wordnet`), which sums every class's probability under every node, where
    /// model labels keep only a photo's top classes. On make bench's quality set this lifted
    /// recall@5 from 0.797 / 0.710 to 0.836 / 0.729 on the odd / even queries (0.1–0.25 tie on
    /// the odd ones; the even ones were held out).
    public static let hierarchyWeight = 0.25

    public struct Reason: Sendable, Equatable {
        public enum Kind: String, Sendable {
            case modelLabel = "model_label"
            case label, text
            /// The whole query near a class or label in the sentence-embedding space.
            case meaning
            /// The whole query near the photo in a vision–language model's space (CLIP).
            case visionLanguage = "vision_language"
        }
        public var kind: Kind
        /// The query term it answers.
        public var term: String
        /// What matched: the label, or the line of text.
        public var matched: String
        /// For a model label: the WordNet path from its class up to the term.
        public var path: [String]
        public var score: Double
    }

    public struct Hit: Sendable {
        public var sha256: String
        public var projectID: Int64
        public var score: Double
        public var reasons: [Reason]
    }

    public struct Answer: Sendable {
        public var terms: [TextQuery.Term]
        /// Ranked, best first; every hit with a score above 0.
        public var hits: [Hit]
    }

    /// How many hits each source may give per term.
    static let perSource = 5000

    /// The kinds of evidence a search may use; all of them unless a benchmark or a user asks
    /// for fewer (`iris search --using`), to measure what each is worth.
    public struct Parts: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// Model labels beneath the query's words in WordNet.
        public static let words = Parts(rawValue: 1)
        /// Human and learner labels, by name or beneath the words.
        public static let labels = Parts(rawValue: 2)
        /// Text read in the image.
        public static let text = Parts(rawValue: 4)
        /// The whole query in the sentence-embedding space (classes and labels).
        public static let meaning = Parts(rawValue: 8)
        /// The whole query against the photos themselves, by a vision–language pair (CLIP).
        public static let vision = Parts(rawValue: 16)
        /// Each word's WordNet node in the photos' semantic features (all of their classes'
        /// probability beneath it).
        public static let hierarchy = Parts(rawValue: 32)
        public static let all: Parts = [.words, .labels, .text, .meaning, .vision, .hierarchy]
        public static let names: [(String, Parts)] = [
            ("words", .words), ("labels", .labels), ("text", .text), ("meaning", .meaning), ("vision", .vision),
            ("hierarchy", .hierarchy),
        ]
    }

    /// Everything matching `text` in `allowed` projects (nil: all), with flagged images hidden
    /// in projects not in `seesFlagged` (nil: the caller sees them all), ranked.
    public func search(
        _ text: String, in allowed: Set<Int64>?, seesFlagged: Set<Int64>?, using parts: Parts = .all,
        filter: SearchFilter = SearchFilter()
    ) async throws -> Answer {
        let vocabulary = try await self.vocabulary()
        let query = TextQuery(text, wordnet: vocabulary.wordnet)
        let semantic = parts.contains(.meaning) ? await self.semantic() : nil
        let pairs = parts.contains(.vision) && indexes != nil ? models.visionLanguagePairs : []
        guard !query.terms.isEmpty || semantic != nil || !pairs.isEmpty else { return Answer(terms: [], hits: []) }
        let projects = allowed.map { $0.sorted() }
        let readers = models.available.filter { $0.manifest.tasks.contains(.detectText) }.map(\.name).sorted()
        let labelNames = try await store.search.labelNames(in: projects, limit: 10_000)
        var scores: [String: [Double]] = [:]
        var reasons: [String: [Reason]] = [:]
        for (position, term) in query.terms.enumerated() {
            var best: [String: Reason] = [:]
            func offer(_ sha256: String, _ reason: Reason) {
                if reason.score > (best[sha256]?.score ?? 0) { best[sha256] = reason }
            }
            // Model labels beneath the term (summed per image over its labels).
            let classes = parts.contains(.words) ? vocabulary.classes(for: term.synsets) : []
            let paths = Dictionary(
                classes.map { (vocabulary.labels[$0.index], $0.path) }, uniquingKeysWith: { a, _ in a })
            for (sha256, entry) in try await summedLabels(weights: paths.mapValues { _ in 1 }, in: projects) {
                offer(
                    sha256,
                    Reason(
                        kind: .modelLabel, term: term.text, matched: entry.label,
                        path: vocabulary.words(paths[entry.label] ?? []), score: min(1, entry.score)))
            }
            // Human and learner labels: the same word, or a noun beneath the term.
            let wanted = Set(term.synsets)
            let matching = labelNames.filter { name in
                guard parts.contains(.labels) else { return false }
                let lowered = name.lowercased()
                if lowered == term.text
                    || TextQuery(lowered, wordnet: vocabulary.wordnet).terms.map(\.text) == [term.text]
                {
                    return true
                }
                guard !wanted.isEmpty, let sense = vocabulary.wordnet.synsets(named: lowered).first else {
                    return false
                }
                return !wanted.isDisjoint(with: vocabulary.wordnet.ancestors(of: sense).keys)
            }
            for hit in try await store.search.labelHits(names: matching, in: projects, limit: Self.perSource) {
                offer(hit.sha256, Reason(kind: .label, term: term.text, matched: hit.name, path: [], score: 1))
            }
            // Text read in the image: the term as a whole word.
            for hit in try await store.search.textHits(
                models: parts.contains(.text) ? readers : [], containing: term.text, in: projects, limit: Self.perSource
            ) {
                if let line = Self.line(in: hit.result, containing: term.text) {
                    offer(hit.sha256, Reason(kind: .text, term: term.text, matched: line, path: [], score: 1))
                }
            }
            for (sha256, reason) in best {
                scores[sha256, default: Array(repeating: 0, count: query.terms.count)][position] = reason.score
                reasons[sha256, default: []].append(reason)
            }
        }
        // By meaning: the whole query against every class and label in the sentence space. An
        // image scores the sum of its classes' probabilities times their similarity, which
        // adds to the words' score (`meaningWeight`).
        var meaning: [String: Reason] = [:]
        if let semantic {
            let query = try semantic.encoder.embed(text)
            let similarities = semantic.similarities(to: query)
            var chosen: [String: Float] = [:]
            for (index, similarity) in similarities.enumerated().sorted(by: { $0.element > $1.element })
                .prefix(Self.semanticClasses) where similarity >= Self.classSimilarity
            {
                chosen[vocabulary.labels[index]] = max(chosen[vocabulary.labels[index]] ?? 0, similarity)
            }
            for (sha256, entry) in try await summedLabels(weights: chosen.mapValues { Double($0) }, in: projects) {
                meaning[sha256] = Reason(
                    kind: .meaning, term: text, matched: entry.label, path: [], score: min(1, entry.score))
            }
            var close: [String: Float] = [:]
            for name in labelNames.prefix(2000) {
                let similarity = zip(try semantic.encoder.embed(name), query).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                if similarity >= Self.labelSimilarity { close[name] = similarity }
            }
            for hit in try await store.search.labelHits(names: Array(close.keys), in: projects, limit: Self.perSource)
            where Double(close[hit.name] ?? 0) > (meaning[hit.sha256]?.score ?? 0) {
                meaning[hit.sha256] = Reason(
                    kind: .meaning, term: text, matched: hit.name, path: [], score: Double(close[hit.name] ?? 0))
            }
        }
        let vision = try await visionEvidence(text, pairs: pairs, in: allowed)
        let hierarchy =
            parts.contains(.hierarchy)
            ? try await hierarchyEvidence(query, wordnet: vocabulary.wordnet, in: allowed) : [:]
        for sha256 in Set(meaning.keys).union(vision.keys).union(hierarchy.keys) where scores[sha256] == nil {
            scores[sha256] = Array(repeating: 0, count: query.terms.count)
            reasons[sha256] = []
        }

        // Where each image may be shown: a project allowed (and passing the filter) and not
        // hiding it from this caller. The filter narrows every candidate, before ranking.
        let memberships =
            filter.isEmpty
            ? try await store.search.memberships(sha256s: Array(scores.keys))
            : try await store.search.passing(
                Array(scores.keys), in: projects, filter: filter, defaultThreshold: moderationThreshold
            ).mapValues { Array($0) }
        var hidden: Set<String> = []
        if let seesFlagged, let allowed {
            for (sha256, project) in try await store.search.hidden(
                in: allowed.subtracting(seesFlagged).sorted(), defaultThreshold: moderationThreshold)
            {
                hidden.insert("\(project):\(sha256)")
            }
        }
        var hits: [Hit] = []
        for (sha256, termScores) in scores {
            guard
                let project = (memberships[sha256] ?? []).sorted().first(where: {
                    (allowed?.contains($0) ?? true) && !hidden.contains("\($0):\(sha256)")
                })
            else { continue }
            var score = termScores.reduce(0, +) / Double(max(1, termScores.count))
            var why = reasons[sha256] ?? []
            if let reason = vision[sha256] {
                score += Self.visionWeight * reason.score * (1 - score)
                why.append(reason)
            }
            if let reason = meaning[sha256] {
                score += Self.meaningWeight * reason.score * (1 - score)
                why.append(reason)
            }
            if let reason = hierarchy[sha256] {
                score += Self.hierarchyWeight * reason.score * (1 - score)
                why.append(reason)
            }
            hits.append(
                Hit(sha256: sha256, projectID: project, score: score, reasons: why.sorted { $0.score > $1.score }))
        }
        hits.sort { $0.score != $1.score ? $0.score > $1.score : $0.sha256 < $1.sha256 }
        return Answer(terms: query.terms, hits: hits)
    }

    /// The images nearest the whole query in each vision–language pair's space (the query's
    /// text embedding against the photos' image embeddings), each scored from 0.05 to 1 by its
    /// cosine between the farthest and the nearest of them; the best pair's score per image.
    func visionEvidence(_ text: String, pairs: [(image: Model, text: Model)], in allowed: Set<Int64>?) async throws
        -> [String: Reason]
    {
        guard let indexes else { return [:] }
        var found: [String: Reason] = [:]
        for pair in pairs {
            guard let encoder = pair.text.textEncoder else { continue }
            let query = try encoder.embed(text)
            let index = try await indexes.index(pair.image.name)
            let hits = index.read { index in
                let probes = index.clusterCount > 0 ? EmbeddingIndexes.probes(for: index.clusterCount) : nil
                return index.nearest(to: query, k: Self.visionCandidates, in: allowed, probes: probes, threads: 2)
            }
            guard let high = hits.first?.similarity, let low = hits.last?.similarity else { continue }
            for hit in hits {
                let share = high > low ? Double((hit.similarity - low) / (high - low)) : 1
                let score = 0.05 + 0.95 * share
                if score > (found[hit.key]?.score ?? 0) {
                    found[hit.key] = Reason(
                        kind: .visionLanguage, term: text, matched: pair.image.name, path: [], score: score)
                }
            }
        }
        return found
    }

    /// For each term, the photos whose semantic features put some probability under the term's
    /// WordNet node (its most common sense in the hierarchy), each scored by that share: read
    /// from every model whose vector ends with WordNet's hierarchy, the best share per image
    /// over the terms and models. The `perSource` photos with the most are taken per term.
    func hierarchyEvidence(_ query: TextQuery, wordnet: WordNet, in allowed: Set<Int64>?) async throws
        -> [String: Reason]
    {
        guard let indexes, !query.terms.isEmpty else { return [:] }
        var found: [String: Reason] = [:]
        for model in models.available where model.manifest.derived?.hierarchy == "wordnet" {
            guard let transform = model.manifest.derived?.transform, let hierarchy = try model.semanticHierarchy(),
                let root = hierarchy.root
            else { continue }
            let index = try await indexes.index(model.name)
            let start = index.read { $0.dimension } - hierarchy.width
            guard start >= 0 else { continue }
            for term in query.terms {
                guard let node = term.synsets.first(where: { hierarchy.nodeColumns[$0] != nil }),
                    let column = hierarchy.nodeColumns[node]
                else { continue }
                var probe = [Float](repeating: 0, count: start + hierarchy.width)
                probe[start + column] = 1
                let word = wordnet.synsets[node]?.words.first ?? term.text
                let shares = index.read { index in
                    index.nearest(to: probe, k: Self.perSource, in: allowed, threads: 2).map { hit in
                        let scale = index.value(for: hit.key, at: start + root) ?? 0
                        return (hit.key, Double(hierarchy.share(hit.similarity, root: scale, transform: transform)))
                    }
                }
                for (sha256, share) in shares where share > (found[sha256]?.score ?? 0) {
                    found[sha256] = Reason(
                        kind: .modelLabel, term: term.text, matched: word, path: [word], score: share)
                }
            }
        }
        return found
    }

    /// Per image, the sum over its model labels among `weights` of the label's probability
    /// times its weight, and the label that gave the most.
    func summedLabels(weights: [String: Double], in projects: [Int64]?) async throws
        -> [String: (score: Double, label: String)]
    {
        var summed: [String: (score: Double, label: String, top: Double)] = [:]
        for hit in try await store.search.modelLabelHits(
            labels: Array(weights.keys), in: projects, limit: Self.perSource)
        {
            let part = hit.score * (weights[hit.label] ?? 0)
            var entry = summed[hit.sha256] ?? (0, hit.label, 0)
            entry.score += part
            if part > entry.top { (entry.label, entry.top) = (hit.label, part) }
            summed[hit.sha256] = entry
        }
        return summed.mapValues { ($0.score, $0.label) }
    }

    /// The first line of a stored text result holding `word` as a whole word (any case).
    static func line(in result: String, containing word: String) -> String? {
        struct Stored: Decodable {
            struct Line: Decodable { var text: String }
            var text: [Line]?
        }
        guard let stored = try? JSONDecoder().decode(Stored.self, from: Data(result.utf8)) else { return nil }
        let wanted = word.lowercased()
        for line in stored.text ?? [] {
            let words = line.text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
            let phrase = wanted.split(separator: " ").map(String.init)
            if phrase.count <= words.count,
                (0...(words.count - phrase.count)).contains(where: { Array(words[$0..<$0 + phrase.count]) == phrase })
            {
                return line.text
            }
        }
        return nil
    }
}
