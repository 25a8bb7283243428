import CZlib
public import Foundation

/// Writes a zip archive to a file as it goes, entry by entry and a megabyte at a time, so an
/// export of any size keeps a flat memory (PKWARE's APPNOTE 6.3: stored entries, UTF-8 names).
/// Each entry's CRC-32 and size follow its bytes in a data descriptor, so nothing is read
/// twice. An entry must be under 4 GiB; the archive may be larger: offsets past 4 GiB and more
/// than 65,535 entries are written as ZIP64 records in the central directory.
///
/// It writes with `FileHandle.write` in pieces: Foundation's `Data.write` on Linux corrupts
/// files over 2 GB (docs/DESIGN.md).
public final class ZipWriter {
    private struct Written {
        var name: [UInt8]
        var crc: UInt32
        var size: UInt64
        var offset: UInt64
        var time: UInt16
        var date: UInt16
    }

    private let handle: FileHandle
    private var offset: UInt64 = 0
    private var entries: [Written] = []
    private var finished = false

    /// Creates (or truncates) the file at `url`.
    public init(creating url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
        handle = try FileHandle(forWritingTo: url)
    }

    deinit { try? handle.close() }

    /// Bytes written so far.
    public var bytesWritten: UInt64 { offset }

    /// Adds an entry from `data`.
    public func add(_ name: String, data: Data, modified: Date = Date()) throws {
        var position = 0
        try add(name, modified: modified) {
            guard position < data.count else { return nil }
            let end = min(data.count, position + (1 << 20))
            defer { position = end }
            return data.subdata(in: position..<end)
        }
    }

    /// Adds an entry from a file, read a megabyte at a time.
    public func add(_ name: String, file: URL, modified: Date = Date()) throws {
        let source = try FileHandle(forReadingFrom: file)
        defer { try? source.close() }
        try add(name, modified: modified) {
            guard let chunk = try source.read(upToCount: 1 << 20), !chunk.isEmpty else { return nil }
            return chunk
        }
    }

    /// Adds an entry whose bytes `next` gives in pieces until it answers nil.
    public func add(_ name: String, modified: Date = Date(), next: () throws -> Data?) throws {
        precondition(!finished, "the archive is finished")
        let nameBytes = Array(name.utf8)
        guard !nameBytes.isEmpty, nameBytes.count <= 0xFFFF else {
            throw ZipArchive.Failure.damaged("an entry name must have 1 to 65,535 bytes")
        }
        let (time, date) = Self.dosTime(modified)
        let start = offset
        var header = Data()
        header.le32(0x0403_4b50)
        header.le16(45)  // version needed: ZIP64
        header.le16(0x0808)  // bit 3: sizes in a data descriptor; bit 11: UTF-8 name
        header.le16(0)  // stored
        header.le16(time)
        header.le16(date)
        header.le32(0)
        header.le32(0)
        header.le32(0)
        header.le16(UInt16(nameBytes.count))
        header.le16(0)
        header.append(contentsOf: nameBytes)
        try write(header)
        var crc = crc32(0, nil, 0)
        var size: UInt64 = 0
        while let chunk = try next() {
            crc = chunk.withUnsafeBytes { raw in
                crc32(crc, raw.bindMemory(to: Bytef.self).baseAddress, uInt(chunk.count))
            }
            size += UInt64(chunk.count)
            guard size < 0xFFFF_FFFF else {
                throw ZipArchive.Failure.damaged("\(name) is 4 GiB or more, more than an entry may hold")
            }
            try write(chunk)
        }
        var descriptor = Data()
        descriptor.le32(0x0807_4b50)
        descriptor.le32(UInt32(crc))
        descriptor.le32(UInt32(size))
        descriptor.le32(UInt32(size))
        try write(descriptor)
        entries.append(Written(name: nameBytes, crc: UInt32(crc), size: size, offset: start, time: time, date: date))
    }

    /// Writes the central directory and closes the file.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        let directoryStart = offset
        var directory = Data()
        for entry in entries {
            let far = entry.offset >= 0xFFFF_FFFF
            directory.le32(0x0201_4b50)
            directory.le16(0x031E)  // made by: Unix, spec 3.0
            directory.le16(45)
            directory.le16(0x0808)
            directory.le16(0)
            directory.le16(entry.time)
            directory.le16(entry.date)
            directory.le32(entry.crc)
            directory.le32(UInt32(entry.size))
            directory.le32(UInt32(entry.size))
            directory.le16(UInt16(entry.name.count))
            directory.le16(far ? 12 : 0)
            directory.le16(0)  // comment
            directory.le16(0)  // disk
            directory.le16(0)  // internal attributes
            directory.le32(0o100644 << 16)  // a regular file, rw-r--r--
            directory.le32(far ? 0xFFFF_FFFF : UInt32(entry.offset))
            directory.append(contentsOf: entry.name)
            if far {
                directory.le16(0x0001)  // ZIP64 extra: the offset alone
                directory.le16(8)
                directory.le64(entry.offset)
            }
            if directory.count >= 1 << 20 {
                try write(directory)
                directory.removeAll(keepingCapacity: true)
            }
        }
        try write(directory)
        let directorySize = offset - directoryStart
        var end = Data()
        let needs64 = entries.count >= 0xFFFF || directoryStart >= 0xFFFF_FFFF || directorySize >= 0xFFFF_FFFF
        if needs64 {
            let record = offset
            end.le32(0x0606_4b50)
            end.le64(44)
            end.le16(0x031E)
            end.le16(45)
            end.le32(0)
            end.le32(0)
            end.le64(UInt64(entries.count))
            end.le64(UInt64(entries.count))
            end.le64(directorySize)
            end.le64(directoryStart)
            end.le32(0x0706_4b50)  // the locator
            end.le32(0)
            end.le64(record)
            end.le32(1)
        }
        end.le32(0x0605_4b50)
        end.le16(0)
        end.le16(0)
        end.le16(needs64 ? 0xFFFF : UInt16(entries.count))
        end.le16(needs64 ? 0xFFFF : UInt16(entries.count))
        end.le32(needs64 ? 0xFFFF_FFFF : UInt32(directorySize))
        end.le32(needs64 ? 0xFFFF_FFFF : UInt32(directoryStart))
        end.le16(0)
        try write(end)
        try handle.synchronize()
        try handle.close()
    }

    private func write(_ data: Data) throws {
        try handle.write(contentsOf: data)
        offset += UInt64(data.count)
    }

    /// MS-DOS time and date, in UTC (zip has no time zone).
    static func dosTime(_ date: Date) -> (UInt16, UInt16) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let year = max(1980, min(2107, parts.year ?? 1980))
        let time = UInt16((parts.hour ?? 0) << 11 | (parts.minute ?? 0) << 5 | (parts.second ?? 0) / 2)
        let day = UInt16((year - 1980) << 9 | (parts.month ?? 1) << 5 | (parts.day ?? 1))
        return (time, day)
    }
}

extension Data {
    fileprivate mutating func le16(_ value: UInt16) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
    fileprivate mutating func le32(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
    fileprivate mutating func le64(_ value: UInt64) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
