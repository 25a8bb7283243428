public import Foundation

/// Zips a hostile tester sends: each lies in one way, most after honest entries, so a
/// refusal that is not whole shows as images stored.
public enum HostileZips {
    /// Eight honest photos in a `cats` folder, the entries a bad one follows.
    public static func honest(count: Int = 8) throws -> [ZipWriter.Entry] {
        try (0..<count).map {
            ZipWriter.Entry("cats/\($0).jpg", try Fixtures.jpeg(width: 64, height: 48, seed: 100 + $0))
        }
    }

    /// A deflate entry declaring 100,000 bytes that holds one non-final stored block of
    /// length 65,535 followed by only 2,000 bytes: the stream can never end. ZIPFoundation
    /// 0.9.20's inflate spun on it for ever.
    public static func storedBlockLongerThanFile() -> Data {
        // BFINAL 0, BTYPE 00 (stored), then LEN 65535 and NLEN 0, then the 2,000 bytes there are.
        let raw = Data([0x00, 0xFF, 0xFF, 0x00, 0x00]) + Data(repeating: 0x41, count: 2_000)
        return ZipWriter.archive([ZipWriter.Entry("cats/endless.jpg", Data(count: 100_000), rawData: raw)])
    }

    /// Honest entries, then one whose data inflates past the size its header declares.
    public static func inflatesPastDeclaredSize() throws -> Data {
        let photo = try Fixtures.jpeg(width: 200, height: 150, seed: 9)
        return ZipWriter.archive(
            try honest() + [ZipWriter.Entry("cats/liar.jpg", photo, declaredSize: UInt32(photo.count / 2))])
    }

    /// Honest entries, then one whose deflate stream is corrupt (a reserved block type).
    public static func corruptDeflate() throws -> Data {
        ZipWriter.archive(
            try honest() + [
                ZipWriter.Entry("cats/corrupt.jpg", Data(count: 300), rawData: Data([0x07, 0x00, 0x11, 0x22]))
            ])
    }

    /// Honest entries, then one compressed with LZMA (method 14), which Iris does not read.
    public static func lzmaEntry() throws -> Data {
        ZipWriter.archive(
            try honest() + [
                ZipWriter.Entry(
                    "cats/lzma.jpg", Data(count: 500), method: 14, rawData: Data(repeating: 0x5D, count: 100))
            ])
    }

    /// Honest entries, then one whose CRC-32 does not match its bytes.
    public static func wrongChecksum() throws -> Data {
        let photo = try Fixtures.jpeg(width: 64, height: 48, seed: 42)
        return ZipWriter.archive(
            try honest() + [ZipWriter.Entry("cats/bad-crc.jpg", photo, crc32: ZipWriter.checksum(photo) ^ 0xDEAD_BEEF)])
    }

    /// Honest entries whose central directory's first signature is overwritten.
    public static func damagedDirectory() throws -> Data {
        ZipWriter.archive(try honest(), damageDirectory: true)
    }

    /// One honest photo whose data twenty more central directory entries also point at: each
    /// passes every per-entry check, yet the archive inflates the same stream 21 times.
    public static func overlappingEntries() throws -> Data {
        let photo = try Fixtures.jpeg(width: 64, height: 48, seed: 77)
        return ZipWriter.archive(
            [ZipWriter.Entry("cats/shared.jpg", photo)], aliasesOfFirst: (1...20).map { "cats/copy-\($0).jpg" })
    }
}
