import CZlib
public import Foundation

/// Writes zip archives for tests: honest ones, and hostile ones whose headers lie in exactly
/// one way (a wrong CRC, a declared size smaller than the data, an unsupported method, a
/// deflate stream that ends early, a damaged central directory).
public enum ZipWriter {
    public struct Entry: Sendable {
        public var path: String
        public var data: Data
        /// 0 stored, 8 deflate.
        public var method: UInt16 = 8
        /// Replaces the compressed bytes (and the method's encoding) as they are written.
        public var rawData: Data?
        public var crc32: UInt32?
        public var declaredSize: UInt32?

        public init(
            _ path: String, _ data: Data, method: UInt16 = 8, rawData: Data? = nil, crc32: UInt32? = nil,
            declaredSize: UInt32? = nil
        ) {
            self.path = path
            self.data = data
            self.method = method
            self.rawData = rawData
            self.crc32 = crc32
            self.declaredSize = declaredSize
        }
    }

    /// The archive; `damageDirectory` overwrites the first central directory signature;
    /// `aliasesOfFirst` adds central directory entries of these names that point at the first
    /// entry's local header and data (one stream read many times: zip amplification).
    public static func archive(_ entries: [Entry], damageDirectory: Bool = false, aliasesOfFirst: [String] = [])
        -> Data
    {
        var out = Data()
        var directory = Data()
        let aliases = entries.first.map { first in aliasesOfFirst.map { (first, $0, UInt32(0)) } } ?? []
        for (entry, alias, aliasOffset) in entries.map({ ($0, String?.none, UInt32?.none) })
            + aliases.map({ ($0.0, Optional($0.1), Optional($0.2)) })
        {
            if let alias, let aliasOffset {
                let name = Data(alias.utf8)
                let packed = entry.rawData ?? (entry.method == 8 ? deflate(entry.data) : entry.data)
                directory.append(
                    centralRecord(
                        entry, name: name, packedCount: packed.count, offset: aliasOffset))
                continue
            }
            let name = Data(entry.path.utf8)
            let packed = entry.rawData ?? (entry.method == 8 ? deflate(entry.data) : entry.data)
            let crc = entry.crc32 ?? checksum(entry.data)
            let size = entry.declaredSize ?? UInt32(entry.data.count)
            let offset = UInt32(out.count)
            out.append(le32(0x0403_4b50))
            out.append(le16(20))
            out.append(le16(0x0800))
            out.append(le16(entry.method))
            out.append(le16(0))
            out.append(le16(0x21))  // time, date (1980-01-01)
            out.append(le32(crc))
            out.append(le32(UInt32(packed.count)))
            out.append(le32(size))
            out.append(le16(UInt16(name.count)))
            out.append(le16(0))
            out.append(name)
            out.append(packed)
            directory.append(centralRecord(entry, name: name, packedCount: packed.count, offset: offset))
        }
        let directoryOffset = UInt32(out.count)
        if damageDirectory, !directory.isEmpty { directory.replaceSubrange(0..<4, with: Data("JUNK".utf8)) }
        out.append(directory)
        out.append(le32(0x0605_4b50))
        out.append(le16(0))
        out.append(le16(0))
        out.append(le16(UInt16(entries.count + aliases.count)))
        out.append(le16(UInt16(entries.count + aliases.count)))
        out.append(le32(UInt32(directory.count)))
        out.append(le32(directoryOffset))
        out.append(le16(0))
        return out
    }

    static func centralRecord(_ entry: Entry, name: Data, packedCount: Int, offset: UInt32) -> Data {
        var record = Data()
        record.append(le32(0x0201_4b50))
        record.append(le16(0x0314))
        record.append(le16(20))
        record.append(le16(0x0800))
        record.append(le16(entry.method))
        record.append(le16(0))
        record.append(le16(0x21))
        record.append(le32(entry.crc32 ?? checksum(entry.data)))
        record.append(le32(UInt32(packedCount)))
        record.append(le32(entry.declaredSize ?? UInt32(entry.data.count)))
        record.append(le16(UInt16(name.count)))
        record.append(le16(0))
        record.append(le16(0))
        record.append(le16(0))
        record.append(le16(0))
        record.append(le32(0o100644 << 16))
        record.append(le32(offset))
        record.append(name)
        return record
    }

    /// Raw deflate, as zip entries hold it.
    public static func deflate(_ data: Data) -> Data {
        var stream = z_stream()
        precondition(iris_deflate_init_raw(&stream, 6) == Z_OK)
        defer { deflateEnd(&stream) }
        let capacity = Int(deflateBound(&stream, uLong(data.count)))
        var output = [UInt8](repeating: 0, count: capacity)
        var input = [UInt8](data)
        let written: Int = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.next_in = source.baseAddress
                stream.avail_in = uInt(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = uInt(target.count)
                precondition(CZlib.deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return target.count - Int(stream.avail_out)
            }
        }
        return Data(output.prefix(written))
    }

    public static func checksum(_ data: Data) -> UInt32 {
        data.withUnsafeBytes { UInt32(crc32(0, $0.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt($0.count))) }
    }

    static func le16(_ value: UInt16) -> Data { Data([UInt8(value & 0xFF), UInt8(value >> 8)]) }
    static func le32(_ value: UInt32) -> Data { Data((0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) }) }
}
