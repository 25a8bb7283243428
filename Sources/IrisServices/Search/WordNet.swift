public import Foundation

/// WordNet's nouns (Princeton WordNet 3.0, as Debian's `wordnet-base` installs it in
/// `/usr/share/wordnet`), read from its database files: each synset's words, gloss and
/// hypernyms, and which synsets a word names. ImageNet's classes are WordNet noun synsets (a
/// class id such as `n02110063` is a synset's offset in `data.noun`), so a word's hyponyms
/// reach the classes beneath it: "dog" ⊃ "malamute", "furniture" ⊃ "rocking chair".
///
/// Formats (WordNet's `wndb(5WN)`): a `data.noun` line is `offset lex_filenum n w_cnt(hex)
/// word lex_id … p_cnt pointer… | gloss`, a pointer `symbol offset pos source/target` (`@`
/// hypernym, `@i` instance hypernym); an `index.noun` line is `lemma n synset_cnt p_cnt
/// symbol… sense_cnt tagsense_cnt offset…`, its offsets in order of how often each sense is
/// used; `noun.exc` maps irregular plurals to their base forms.
public struct WordNet: Sendable {
    public struct Synset: Sendable {
        public let offset: Int
        /// Its words, lower-case, with spaces (`musical instrument`), most common first.
        public let words: [String]
        public let gloss: String
        /// The offsets of its hypernyms and instance hypernyms.
        public let hypernyms: [Int]
    }

    public let synsets: [Int: Synset]
    /// A word (lower-case, spaces) → the synsets it names, most common sense first.
    let senses: [String: [Int]]
    /// Irregular plurals → base forms.
    let exceptions: [String: [String]]

    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads `folder/data.noun`, `index.noun` and `noun.exc` (the last may be absent).
    public init(folder: URL) throws {
        func lines(_ name: String) throws -> [Substring] {
            let url = folder.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw Missing(
                    description:
                        "WordNet's \(name) is not in \(folder.path) (install Debian's wordnet-base, or set search.wordnet_dir)"
                )
            }
            return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        }
        var synsets: [Int: Synset] = [:]
        for line in try lines("data.noun") where !line.hasPrefix(" ") {
            let bar = line.firstIndex(of: "|")
            let gloss = bar.map { line[line.index(after: $0)...].trimmingCharacters(in: .whitespaces) } ?? ""
            let fields = line[..<(bar ?? line.endIndex)].split(separator: " ")
            guard fields.count > 4, let offset = Int(fields[0]), let count = Int(fields[3], radix: 16) else { continue }
            var words: [String] = []
            var position = 4
            for _ in 0..<count where position + 1 < fields.count {
                words.append(Self.normalized(fields[position]))
                position += 2
            }
            var hypernyms: [Int] = []
            if position < fields.count, let pointers = Int(fields[position]) {
                position += 1
                for _ in 0..<pointers where position + 3 < fields.count {
                    if fields[position] == "@" || fields[position] == "@i", fields[position + 2] == "n",
                        let target = Int(fields[position + 1])
                    {
                        hypernyms.append(target)
                    }
                    position += 4
                }
            }
            synsets[offset] = Synset(offset: offset, words: words, gloss: gloss, hypernyms: hypernyms)
        }
        var senses: [String: [Int]] = [:]
        for line in try lines("index.noun") where !line.hasPrefix(" ") {
            let fields = line.split(separator: " ")
            guard fields.count > 4, let count = Int(fields[2]), fields.count >= count else { continue }
            senses[Self.normalized(fields[0])] = fields.suffix(count).compactMap { Int($0) }
        }
        var exceptions: [String: [String]] = [:]
        if let plural = try? lines("noun.exc") {
            for line in plural {
                let fields = line.split(separator: " ")
                if fields.count >= 2 {
                    exceptions[Self.normalized(fields[0])] = fields.dropFirst().map(Self.normalized)
                }
            }
        }
        guard !synsets.isEmpty, !senses.isEmpty else {
            throw Missing(description: "WordNet's files in \(folder.path) hold no nouns")
        }
        (self.synsets, self.senses, self.exceptions) = (synsets, senses, exceptions)
    }

    /// `Alaskan_malamute` → `alaskan malamute`; WordNet marks some adjectives `(a)`, dropped.
    static func normalized(_ word: Substring) -> String {
        var text = word.lowercased().replacingOccurrences(of: "_", with: " ")
        if let paren = text.firstIndex(of: "("), text.hasSuffix(")") { text = String(text[..<paren]) }
        return text
    }

    /// The synsets a word or phrase names, trying its base forms as WordNet's morphy does for
    /// nouns (an irregular plural from `noun.exc`, then the regular endings), most common first.
    public func synsets(named phrase: String) -> [Int] {
        let word = phrase.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard !word.isEmpty else { return [] }
        if let found = senses[word] { return found }
        var candidates = exceptions[word] ?? []
        for (suffix, replacement) in [
            ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
            ("men", "man"), ("ies", "y"), ("s", ""),
        ] where word.hasSuffix(suffix) {
            candidates.append(String(word.dropLast(suffix.count)) + replacement)
        }
        for candidate in candidates { if let found = senses[candidate] { return found } }
        return []
    }

    /// Every synset above `offset` by hypernyms (itself first), each with the shortest path up
    /// to it (offsets from `offset`'s first hypernym to it).
    public func ancestors(of offset: Int, limit: Int = 64) -> [Int: [Int]] {
        var paths: [Int: [Int]] = [offset: []]
        var frontier = [offset]
        var steps = 0
        while !frontier.isEmpty, steps < limit {
            steps += 1
            var next: [Int] = []
            for node in frontier {
                for parent in synsets[node]?.hypernyms ?? [] where paths[parent] == nil {
                    paths[parent] = paths[node]! + [parent]
                    next.append(parent)
                }
            }
            frontier = next
        }
        return paths
    }
}
