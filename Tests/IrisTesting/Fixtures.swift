public import Foundation
public import IrisCore
import IrisImaging

/// Test inputs made on the spot, so no binary fixture is committed.
public enum Fixtures {
    /// A real JPEG of the given size; different seeds give different bytes.
    public static func jpeg(width: Int = 640, height: Int = 480, seed: Int = 0) throws -> Data {
        try SyntheticImage.encode(width: width, height: height, format: .jpeg, seed: seed)
    }

    public static func image(_ format: ImageFormat, width: Int = 320, height: Int = 200, seed: Int = 0) throws -> Data {
        try SyntheticImage.encode(width: width, height: height, format: format, seed: seed)
    }

    /// A JPEG carrying EXIF: an orientation, a capture time and a GPS latitude.
    public static func exifJPEG(
        width: Int = 400, height: Int = 200, orientation: UInt16 = 6, taken: String = "2021:06:01 10:20:30"
    ) throws -> Data {
        let plain = try jpeg(width: width, height: height, seed: 7)
        var segment = Data([0xFF, 0xE1])
        let payload = Data("Exif\0\0".utf8) + tiff(orientation: orientation, taken: taken)
        let length = UInt16(payload.count + 2)
        segment.append(contentsOf: [UInt8(length >> 8), UInt8(length & 0xFF)])
        segment.append(payload)
        // Right after the SOI marker.
        return plain.prefix(2) + segment + plain.dropFirst(2)
    }

    /// A little-endian TIFF block: IFD0 (orientation, Exif pointer, GPS pointer),
    /// the Exif IFD (DateTimeOriginal) and the GPS IFD (latitude 12° 30' 0" N).
    static func tiff(orientation: UInt16, taken: String) -> Data {
        var out = Data()
        func u16(_ value: UInt16) { out.append(contentsOf: [UInt8(value & 0xFF), UInt8(value >> 8)]) }
        func u32(_ value: UInt32) {
            for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8((value >> UInt32(shift)) & 0xFF)) }
        }
        func entry(_ tag: UInt16, _ type: UInt16, _ count: UInt32, _ value: UInt32) {
            u16(tag)
            u16(type)
            u32(count)
            u32(value)
        }
        let ifd0: UInt32 = 8
        let exifIFD: UInt32 = 50
        let gpsIFD: UInt32 = 68
        let dateOffset: UInt32 = 98
        let latitudeOffset: UInt32 = 118
        out.append(contentsOf: Array("II".utf8))
        u16(42)
        u32(ifd0)
        u16(3)
        entry(0x0112, 3, 1, UInt32(orientation))  // Orientation, SHORT, inline
        entry(0x8769, 4, 1, exifIFD)  // Exif IFD pointer
        entry(0x8825, 4, 1, gpsIFD)  // GPS IFD pointer
        u32(0)
        u16(1)
        entry(0x9003, 2, 20, dateOffset)  // DateTimeOriginal, ASCII
        u32(0)
        u16(2)
        entry(0x0001, 2, 2, UInt32(Character("N").asciiValue!))  // GPSLatitudeRef "N\0", inline
        entry(0x0002, 5, 3, latitudeOffset)  // GPSLatitude, 3 RATIONALs
        u32(0)
        out.append(Data((taken.prefix(19) + "\0").utf8))
        for (numerator, denominator) in [(12, 1), (30, 1), (0, 1)] as [(UInt32, UInt32)] {
            u32(numerator)
            u32(denominator)
        }
        return out
    }

    /// A zip of `entries` (path → bytes), deflated.
    public static func zip(_ entries: [(String, Data)]) throws -> Data {
        ZipWriter.archive(entries.map { ZipWriter.Entry($0.0, $0.1) })
    }

    /// A zip whose single entry inflates from a few kilobytes to `megabytes` of zeros.
    public static func zipBomb(megabytes: Int = 64) throws -> Data {
        ZipWriter.archive([ZipWriter.Entry("cats/bomb.jpg", Data(count: megabytes << 20))])
    }

    /// A JPEG cut off half way.
    public static func truncatedJPEG() throws -> Data {
        let whole = try jpeg(width: 800, height: 600, seed: 3)
        return whole.prefix(whole.count / 2)
    }

    /// A JPEG with 4,000 random bytes written over the middle of its entropy-coded data:
    /// libjpeg reads on with a warning ("Corrupt JPEG data…") and grey or garbage pixels.
    public static func corruptEntropyJPEG() throws -> Data {
        var bytes = [UInt8](try jpeg(width: 1200, height: 900, seed: 11))
        var state: UInt64 = 0x1234_5678
        let start = bytes.count / 2
        for index in start..<min(start + 4_000, bytes.count - 2) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes[index] = UInt8(truncatingIfNeeded: state >> 33)
        }
        return Data(bytes)
    }

    /// A whole JPEG but for its final 2-byte EOI marker.
    public static func jpegWithoutEOI() throws -> Data {
        let whole = try jpeg(width: 800, height: 600, seed: 12)
        precondition(whole.suffix(2) == Data([0xFF, 0xD9]))
        return whole.dropLast(2)
    }

    /// A PNG whose IHDR chunk fails its CRC.
    public static func pngWithBadHeaderCRC() throws -> Data {
        var bytes = [UInt8](try image(.png, width: 64, height: 48, seed: 13))
        // Signature (8) + length (4) + "IHDR" (4) + 13 data bytes: the CRC is bytes 29–32.
        for index in 29..<33 { bytes[index] ^= 0xFF }
        return Data(bytes)
    }

    /// A TIFF cut after its header and part of its first directory.
    public static func damagedTIFF() throws -> Data {
        let whole = try image(.tiff, width: 64, height: 48, seed: 14)
        return Data([0x49, 0x49, 0x2A, 0x00, 0xF0, 0xFF, 0xFF, 0x00]) + whole.dropFirst(8).prefix(40)
    }

    /// An ISO media file that says it is HEIC and holds nothing usable.
    public static let damagedHEIC =
        Data([0, 0, 0, 24]) + Data("ftypheic".utf8) + Data([0, 0, 0, 0]) + Data("mif1heic".utf8)
        + Data(repeating: 0x42, count: 200)

    public static let svg = Data(
        #"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>"#.utf8)
}

extension Fixtures {
    /// A real 20000×20000 PNG (1-bit, about 50 KB): 400 megapixels once decoded. Made once per run.
    public static func pixelBomb() throws -> Data {
        try PixelBomb.data.get()
    }

    private enum PixelBomb {
        static let data = Result { try SyntheticImage.pixelBombPNG(width: 20_000, height: 20_000) }
    }
}
