import IrisCore
import IrisServices

/// A streaming multipart/form-data parser (RFC 7578 on RFC 2046), written for Iris.
///
/// Iris first used MultipartKit 4.7.1, whose parser crashes the whole process (index out of
/// range) on a header name byte ≥ 0x80: a request anyone holding an upload link could send.
/// This parser never traps: malformed input is a thrown 400 `Problem`. It keeps at most one
/// delimiter's worth of bytes between chunks, so memory does not grow with the body.
struct MultipartStreamParser {
    enum Event: Equatable {
        /// A part begins, with its headers (names lowercased).
        case part([String: String])
        case body([UInt8])
        case partEnd
    }

    static let maxHeaderBytes = 16 * 1024
    static let maxPreambleBytes = 64 * 1024

    private enum State { case preamble, afterBoundary, headers, body, done }

    private let dashBoundary: [UInt8]
    private let delimiter: [UInt8]
    private var state = State.preamble
    private var buffer: [UInt8] = []
    private var skipped = 0

    init(boundary: String) {
        dashBoundary = Array(("--" + boundary).utf8)
        delimiter = Array(("\r\n--" + boundary).utf8)
    }

    /// True once the closing boundary has been read.
    var isComplete: Bool { state == .done }

    mutating func feed<Bytes: Sequence>(_ bytes: Bytes) throws -> [Event] where Bytes.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        var events: [Event] = []
        while try step(&events) {}
        return events
    }

    /// Runs one state transition; answers whether another may follow with the bytes at hand.
    private mutating func step(_ events: inout [Event]) throws -> Bool {
        switch state {
        case .preamble:
            if let index = Self.find(dashBoundary, in: buffer) {
                buffer.removeFirst(index + dashBoundary.count)
                state = .afterBoundary
                return true
            }
            let keep = dashBoundary.count - 1
            if buffer.count > keep {
                skipped += buffer.count - keep
                buffer.removeFirst(buffer.count - keep)
            }
            guard skipped <= Self.maxPreambleBytes else { throw Self.malformed("no opening boundary") }
            return false
        case .afterBoundary:
            guard buffer.count >= 2 else { return false }
            if buffer[0] == 0x2D && buffer[1] == 0x2D {  // "--": the closing boundary
                state = .done
                buffer.removeAll()
                return false
            }
            guard buffer[0] == 0x0D && buffer[1] == 0x0A else {
                throw Self.malformed("a boundary is not followed by a line break")
            }
            buffer.removeFirst(2)
            state = .headers
            return true
        case .headers:
            if buffer.count >= 2 && buffer[0] == 0x0D && buffer[1] == 0x0A {  // a part with no headers
                buffer.removeFirst(2)
                events.append(.part([:]))
                state = .body
                return true
            }
            guard let end = Self.find([0x0D, 0x0A, 0x0D, 0x0A], in: buffer) else {
                guard buffer.count <= Self.maxHeaderBytes else {
                    throw Self.malformed("a part's headers are over \(Self.maxHeaderBytes) bytes")
                }
                return false
            }
            events.append(.part(try Self.headers(Array(buffer[0..<end]))))
            buffer.removeFirst(end + 4)
            state = .body
            return true
        case .body:
            if let index = Self.find(delimiter, in: buffer) {
                if index > 0 { events.append(.body(Array(buffer[0..<index]))) }
                buffer.removeFirst(index + delimiter.count)
                events.append(.partEnd)
                state = .afterBoundary
                return true
            }
            // Everything but a possible start of the delimiter is body.
            let safe = buffer.count - (delimiter.count - 1)
            if safe > 0 {
                events.append(.body(Array(buffer[0..<safe])))
                buffer.removeFirst(safe)
            }
            return false
        case .done:
            buffer.removeAll()  // the epilogue is ignored
            return false
        }
    }

    /// `Name: value` lines; names must be RFC 9110 tokens.
    static func headers(_ bytes: [UInt8]) throws -> [String: String] {
        var result: [String: String] = [:]
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: true) {
            var line = Array(line)
            if line.last == 0x0D { line.removeLast() }
            guard let colon = line.firstIndex(of: 0x3A), colon > 0 else { throw malformed("a part header has no name") }
            let name = line[0..<colon]
            guard name.allSatisfy(isTokenCharacter) else {
                throw malformed("a part header name has characters headers may not")
            }
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: [" ", "\t"])
            result[String(decoding: name, as: UTF8.self).lowercased()] = value
        }
        return result
    }

    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
        default: false
        }
    }

    /// The first index where `needle` starts in `haystack`, found by scanning for its first byte.
    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var start = 0
        let last = haystack.count - needle.count
        while start <= last, let index = haystack[start...last].firstIndex(of: first) {
            if haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            start = index + 1
        }
        return nil
    }

    static func malformed(_ why: String) -> Problem {
        Problem.badRequest("the multipart body is malformed: \(why)", field: "body")
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop(while: { set.contains($0) }).reversed().drop(while: { set.contains($0) }).reversed())
    }
}
