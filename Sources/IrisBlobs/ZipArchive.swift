import CZlib
public import Foundation

/// A zip archive read strictly, for imports: the central directory is parsed and checked
/// whole before any entry is read, and each entry is read with every bound a hostile file
/// could break — no more input than its compressed size, no more output than its declared
/// size, a CRC-32 that must match, and a deadline.
///
/// Only what image imports need: stored and deflated entries, ZIP64 sizes, UTF-8 or CP437
/// names. Multi-disk, encrypted and other compression methods are refused by name.
/// Written for Iris from the published format (PKWARE's APPNOTE.TXT); it replaces
/// ZIPFoundation, whose inflate loop never ended on a truncated stored block.
public final class ZipArchive {
    /// One entry of the central directory.
    public struct Entry: Sendable, Equatable {
        public enum Kind: Sendable, Equatable { case file, directory, symbolicLink }

        /// The name as stored, with `/` separators (not yet checked for zip slip).
        public var path: String
        public var kind: Kind
        /// 0 stored, 8 deflate; anything else cannot be read.
        public var method: UInt16
        public var encrypted: Bool
        public var crc32: UInt32
        public var compressedSize: UInt64
        public var uncompressedSize: UInt64
        var localHeaderOffset: UInt64
    }

    /// Why an archive or an entry cannot be read, in the user's words.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// No end-of-central-directory record: not a zip at all.
        case notAZip
        /// The archive's structure is inconsistent (offsets, sizes, signatures).
        case damaged(String)
        /// An archive split over several disks.
        case multiDisk
        /// More entries than the caller allows (checked before they are read).
        case tooManyEntries(declared: UInt64, limit: Int)
        case unsupportedMethod(path: String, method: UInt16)
        case encrypted(path: String)
        /// The entry's data decodes to more bytes than its header declares (a zip bomb's trick).
        case inflatesPastDeclaredSize(path: String)
        /// The entry's data is corrupt, cut short or ends before its declared size.
        case corruptEntry(path: String, reason: String)
        case checksumMismatch(path: String)
        case tooSlow(path: String, seconds: Int)

        public var description: String {
            switch self {
            case .notAZip: "the file is not a zip archive (it has no end-of-central-directory record)"
            case .damaged(let reason): "the zip archive is damaged: \(reason)"
            case .multiDisk: "the zip archive is split over several disks; send it as one file"
            case .tooManyEntries(let declared, let limit):
                "the zip has \(declared) entries; at most \(limit) are allowed"
            case .unsupportedMethod(let path, let method):
                "the zip entry \"\(path)\" uses compression method \(method) (\(Self.methodName(method))); only stored and deflate entries can be read"
            case .encrypted(let path): "the zip entry \"\(path)\" is encrypted"
            case .inflatesPastDeclaredSize(let path): "the zip entry \"\(path)\" inflates past its declared size"
            case .corruptEntry(let path, let reason): "the zip entry \"\(path)\" is damaged: \(reason)"
            case .checksumMismatch(let path): "the zip entry \"\(path)\" fails its CRC-32 check (its data is damaged)"
            case .tooSlow(let path, let seconds): "the zip entry \"\(path)\" took more than \(seconds) s to read"
            }
        }

        static func methodName(_ method: UInt16) -> String {
            switch method {
            case 1: "shrink"
            case 6: "implode"
            case 9: "deflate64"
            case 12: "bzip2"
            case 14: "LZMA"
            case 93: "Zstandard"
            case 95: "XZ"
            case 98: "PPMd"
            case 99: "AES encryption"
            default: "unknown"
            }
        }
    }

    public let entries: [Entry]
    /// How long reading one entry may take; inflating is linear in the bounded input, so
    /// this is a last guard, far above the ~2 s a 512 MB entry takes here.
    public var entryDeadline: Duration = .seconds(120)

    private let descriptor: Int32
    private let fileSize: UInt64
    /// Where the central directory starts: no entry's data may reach past it.
    private let directoryStart: UInt64

    /// Opens and checks the central directory. `maxEntries` is checked against the declared
    /// count before any entry is parsed.
    public init(url: URL, maxEntries: Int) throws {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: url.path]) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            close(descriptor)
            throw CocoaError(.fileReadUnknown)
        }
        self.descriptor = descriptor
        self.fileSize = UInt64(info.st_size)
        do {
            let directory = try Self.locateDirectory(descriptor: descriptor, fileSize: fileSize)
            guard directory.count <= UInt64(maxEntries) else {
                throw Failure.tooManyEntries(declared: directory.count, limit: maxEntries)
            }
            self.directoryStart = directory.offset
            self.entries = try Self.parseDirectory(descriptor: descriptor, directory, fileSize: fileSize)
        } catch {
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }

    // MARK: - Reading entries

    /// Reads `entry`'s bytes into `sink`, chunk by chunk, checking every bound; throws a
    /// `Failure` naming the entry when one is broken. The sink may see bytes of an entry that
    /// then fails: callers discard what they wrote.
    public func read(_ entry: Entry, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        if entry.encrypted { throw Failure.encrypted(path: entry.path) }
        guard entry.method == 0 || entry.method == 8 else {
            throw Failure.unsupportedMethod(path: entry.path, method: entry.method)
        }
        let start = try dataStart(of: entry)
        let deadline = ContinuousClock.now + entryDeadline
        var crc = UInt32(0)
        var produced: UInt64 = 0
        func checked(_ chunk: UnsafeRawBufferPointer) throws {
            produced += UInt64(chunk.count)
            guard produced <= entry.uncompressedSize else { throw Failure.inflatesPastDeclaredSize(path: entry.path) }
            crc = UInt32(
                CZlib.crc32(uLong(crc), chunk.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(chunk.count)))
            try sink(chunk)
        }
        if entry.method == 0 {
            guard entry.compressedSize == entry.uncompressedSize else {
                throw Failure.corruptEntry(path: entry.path, reason: "a stored entry's two sizes differ")
            }
            try readRaw(from: start, count: entry.compressedSize, entry: entry, deadline: deadline, into: checked)
        } else {
            try inflate(from: start, entry: entry, deadline: deadline, into: checked)
        }
        guard produced == entry.uncompressedSize else {
            throw Failure.corruptEntry(
                path: entry.path,
                reason: "it holds \(produced) bytes where its header declares \(entry.uncompressedSize)")
        }
        guard crc == entry.crc32 else { throw Failure.checksumMismatch(path: entry.path) }
    }

    private static let chunkSize = 64 * 1024

    private func readRaw(
        from offset: UInt64, count: UInt64, entry: Entry, deadline: ContinuousClock.Instant,
        into sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var position = offset
        var remaining = count
        while remaining > 0 {
            try checkTime(entry, deadline)
            let want = Int(min(UInt64(Self.chunkSize), remaining))
            let got = try Self.pread(
                descriptor, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: position)
            guard got == want else {
                throw Failure.corruptEntry(path: entry.path, reason: "its data runs past the end of the file")
            }
            try sink(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
            position += UInt64(got)
            remaining -= UInt64(got)
        }
    }

    /// Raw deflate: input bounded by the compressed size, output by the declared size (plus one
    /// byte, to notice a lie), and a stream that cannot make progress is an error, not a loop.
    private func inflate(
        from offset: UInt64, entry: Entry, deadline: ContinuousClock.Instant,
        into sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var stream = z_stream()
        guard iris_inflate_init_raw(&stream) == Z_OK else {
            throw Failure.corruptEntry(path: entry.path, reason: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: Self.chunkSize)
        let output = UnsafeMutablePointer<UInt8>.allocate(capacity: Self.chunkSize)
        defer {
            input.deallocate()
            output.deallocate()
        }
        var position = offset
        var remaining = entry.compressedSize
        while true {
            try checkTime(entry, deadline)
            if stream.avail_in == 0 && remaining > 0 {
                let want = Int(min(UInt64(Self.chunkSize), remaining))
                let got = try Self.pread(
                    descriptor, into: UnsafeMutableRawBufferPointer(start: input, count: want), at: position)
                guard got == want else {
                    throw Failure.corruptEntry(path: entry.path, reason: "its data runs past the end of the file")
                }
                position += UInt64(got)
                remaining -= UInt64(got)
                stream.next_in = input
                stream.avail_in = uInt(got)
            }
            stream.next_out = output
            stream.avail_out = uInt(Self.chunkSize)
            let before = (stream.avail_in, remaining)
            let status = CZlib.inflate(&stream, Z_NO_FLUSH)
            let made = Self.chunkSize - Int(stream.avail_out)
            if made > 0 { try sink(UnsafeRawBufferPointer(start: output, count: made)) }
            switch status {
            case Z_STREAM_END:
                return
            case Z_OK:
                // zlib promises progress on Z_OK; if none was made, stop rather than spin.
                if made == 0 && before == (stream.avail_in, remaining) {
                    throw Failure.corruptEntry(path: entry.path, reason: "its deflate stream makes no progress")
                }
            case Z_BUF_ERROR:
                // No progress possible: all the input is used and the stream has not ended.
                if stream.avail_in == 0 && remaining == 0 {
                    throw Failure.corruptEntry(path: entry.path, reason: "its deflate stream is cut short")
                }
            case Z_DATA_ERROR, Z_NEED_DICT:
                let reason = stream.msg.map { String(cString: $0) } ?? "invalid data"
                throw Failure.corruptEntry(path: entry.path, reason: "its deflate stream is corrupt (\(reason))")
            default:
                throw Failure.corruptEntry(path: entry.path, reason: "zlib failed with status \(status)")
            }
        }
    }

    private func checkTime(_ entry: Entry, _ deadline: ContinuousClock.Instant) throws {
        if ContinuousClock.now > deadline {
            throw Failure.tooSlow(path: entry.path, seconds: Int(entryDeadline.components.seconds))
        }
    }

    /// Where an entry's data starts, from its local header, which must agree with the directory.
    private func dataStart(of entry: Entry) throws -> UInt64 {
        let header = try Self.bytes(
            descriptor, at: entry.localHeaderOffset, count: 30, fileSize: fileSize, what: "a local header")
        guard header.u32(0) == 0x0403_4b50 else {
            throw Failure.damaged("the local header of \"\(entry.path)\" is missing")
        }
        let start = entry.localHeaderOffset + 30 + UInt64(header.u16(26)) + UInt64(header.u16(28))
        guard start <= directoryStart, entry.compressedSize <= directoryStart - start else {
            throw Failure.damaged("the data of \"\(entry.path)\" overlaps the central directory")
        }
        return start
    }

    // MARK: - The central directory

    struct Directory {
        var offset: UInt64
        var size: UInt64
        var count: UInt64
    }

    /// Finds the end-of-central-directory record (and its ZIP64 form) and checks its numbers.
    static func locateDirectory(descriptor: Int32, fileSize: UInt64) throws -> Directory {
        guard fileSize >= 22 else { throw Failure.notAZip }
        // The record is 22 bytes plus a comment of up to 65,535.
        let tailLength = min(fileSize, 22 + 65_535)
        let tail = try bytes(
            descriptor, at: fileSize - tailLength, count: Int(tailLength), fileSize: fileSize, what: "the end record")
        var found: Int?
        var index = tail.count - 22
        while index >= 0 {
            if tail.u32(index) == 0x0605_4b50 && index + 22 + Int(tail.u16(index + 20)) <= tail.count {
                found = index
                break
            }
            index -= 1
        }
        guard let at = found else { throw Failure.notAZip }
        let recordOffset = fileSize - tailLength + UInt64(at)
        var directory = Directory(
            offset: UInt64(tail.u32(at + 16)), size: UInt64(tail.u32(at + 12)), count: UInt64(tail.u16(at + 10)))
        var directoryEnd = recordOffset
        let disk = tail.u16(at + 4)
        let directoryDisk = tail.u16(at + 6)
        let needs64 = directory.count == 0xFFFF || directory.size == 0xFFFF_FFFF || directory.offset == 0xFFFF_FFFF
        if needs64, recordOffset >= 20 {
            let locator = try bytes(
                descriptor, at: recordOffset - 20, count: 20, fileSize: fileSize, what: "the ZIP64 locator")
            if locator.u32(0) == 0x0706_4b50 {
                let record64Offset = locator.u64(8)
                let record = try bytes(
                    descriptor, at: record64Offset, count: 56, fileSize: fileSize, what: "the ZIP64 end record")
                guard record.u32(0) == 0x0606_4b50 else { throw Failure.damaged("the ZIP64 end record is missing") }
                guard record.u32(16) == 0, record.u32(20) == 0 else { throw Failure.multiDisk }
                directory = Directory(offset: record.u64(48), size: record.u64(40), count: record.u64(32))
                directoryEnd = record64Offset
            }
        } else if disk != 0 || directoryDisk != 0 {
            throw Failure.multiDisk
        }
        guard directory.offset <= directoryEnd, directory.size <= directoryEnd - directory.offset else {
            throw Failure.damaged("its central directory lies outside the file")
        }
        // Every entry takes at least 46 bytes of directory.
        guard directory.count <= directory.size / 46 else {
            throw Failure.damaged("its central directory is too small for the \(directory.count) entries it declares")
        }
        return directory
    }

    static func parseDirectory(descriptor: Int32, _ directory: Directory, fileSize: UInt64) throws -> [Entry] {
        let table = try bytes(
            descriptor, at: directory.offset, count: Int(directory.size), fileSize: fileSize,
            what: "the central directory")
        var entries: [Entry] = []
        entries.reserveCapacity(Int(directory.count))
        var at = 0
        for number in 0..<directory.count {
            guard at + 46 <= table.count, table.u32(at) == 0x0201_4b50 else {
                throw Failure.damaged(
                    "central directory entry \(number + 1) of \(directory.count) is missing or corrupt")
            }
            let nameLength = Int(table.u16(at + 28))
            let extraLength = Int(table.u16(at + 30))
            let commentLength = Int(table.u16(at + 32))
            let end = at + 46 + nameLength + extraLength + commentLength
            guard end <= table.count else {
                throw Failure.damaged("central directory entry \(number + 1) runs past the directory's end")
            }
            let flags = table.u16(at + 8)
            let nameBytes = table[(at + 46)..<(at + 46 + nameLength)]
            let path = name(nameBytes, utf8: flags & 0x0800 != 0)
            var compressed = UInt64(table.u32(at + 20))
            var uncompressed = UInt64(table.u32(at + 24))
            var offset = UInt64(table.u32(at + 42))
            // ZIP64 extra field: the 64-bit values, in this order, for those saturated above.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = table.u16(extra)
                let size = Int(table.u16(extra + 2))
                guard extra + 4 + size <= extraEnd else { break }
                if id == 0x0001 {
                    var field = extra + 4
                    func next() throws -> UInt64 {
                        guard field + 8 <= extra + 4 + size else {
                            throw Failure.damaged("the ZIP64 sizes of \"\(path)\" are cut short")
                        }
                        defer { field += 8 }
                        return table.u64(field)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if offset == 0xFFFF_FFFF { offset = try next() }
                }
                extra += 4 + size
            }
            guard offset < directory.offset else {
                throw Failure.damaged("the entry \"\(path)\" points past the central directory")
            }
            // Unix hosts (3) keep the file mode in the high half of the external attributes.
            let mode = (table.u32(at + 38) >> 16) & 0o170000
            let isUnix = table.u16(at + 4) >> 8 == 3
            let kind: Entry.Kind =
                if isUnix && mode == 0o120000 {
                    .symbolicLink
                } else if path.hasSuffix("/") || (isUnix && mode == 0o040000) { .directory } else { .file }
            entries.append(
                Entry(
                    path: path, kind: kind, method: table.u16(at + 10), encrypted: flags & 0x0001 != 0,
                    crc32: table.u32(at + 16),
                    compressedSize: compressed, uncompressedSize: uncompressed, localHeaderOffset: offset))
            at = end
        }
        try refuseOverlaps(entries)
        return entries
    }

    /// Each entry takes at least its local header (30 bytes) and its compressed data; two that
    /// share bytes are refused. Without this, entries pointing at the same deflate stream let a
    /// small zip inflate a large one many times over, past every per-entry ratio check.
    static func refuseOverlaps(_ entries: [Entry]) throws {
        let ordered = entries.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
        for (before, after) in zip(ordered, ordered.dropFirst()) {
            let (span, tooLong) = before.compressedSize.addingReportingOverflow(30)
            let (end, overflow) = before.localHeaderOffset.addingReportingOverflow(span)
            if tooLong || overflow || after.localHeaderOffset < end {
                throw Failure.damaged(
                    "the entries \"\(before.path)\" and \"\(after.path)\" overlap (a zip whose entries share their data is refused)"
                )
            }
        }
    }

    /// UTF-8 when the entry says so or when the bytes are valid UTF-8 (many tools write UTF-8
    /// without the flag); otherwise IBM code page 437, the format's original encoding.
    static func name(_ bytes: ArraySlice<UInt8>, utf8: Bool) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        if utf8 { return String(decoding: bytes, as: UTF8.self) }
        return String(bytes.map { $0 < 0x80 ? Character(Unicode.Scalar($0)) : codePage437High[Int($0 - 0x80)] })
    }

    /// Code page 437's characters for bytes 0x80–0xFF.
    static let codePage437High: [Character] = Array(
        "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{A0}"
    )

    // MARK: - Bytes

    static func pread(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int
    {
        var done = 0
        while done < buffer.count {
            let got = Foundation.pread(
                descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if got < 0 {
                if errno == EINTR { continue }
                throw CocoaError(.fileReadUnknown)
            }
            if got == 0 { break }
            done += got
        }
        return done
    }

    static func bytes(_ descriptor: Int32, at offset: UInt64, count: Int, fileSize: UInt64, what: String) throws
        -> [UInt8]
    {
        guard offset <= fileSize, UInt64(count) <= fileSize - offset else {
            throw Failure.damaged("\(what) lies outside the file")
        }
        var result = [UInt8](repeating: 0, count: count)
        let got = try result.withUnsafeMutableBytes { try pread(descriptor, into: $0, at: offset) }
        guard got == count else { throw Failure.damaged("\(what) is cut short") }
        return result
    }
}

extension Collection<UInt8> where Index == Int {
    /// Little-endian integers at `at`, as every zip field is stored.
    func u16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
    func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
}
