import CVips
public import Foundation

/// A difference hash (dHash) of a picture: the picture in grey, averaged down to 9 × 8 cells,
/// and one bit for each pair of neighbouring cells in a row (is the left one brighter). A copy
/// that was re-encoded, resized or lightly cropped or recoloured keeps almost all of the 64 bits;
/// two different photographs agree on about half of them.
public enum PerceptualHash {
    /// Images larger than this are refused: the hash is meant for thumbnails.
    public static let maxPixels = 4_000_000

    /// The hash of encoded image bytes (JPEG, PNG, … as libvips reads them).
    public static func difference(of data: Data) throws -> UInt64 {
        try Vips.start()
        let loaded = try data.withUnsafeBytes { buffer in
            try VipsImageHandle.make("load") { iris_vips_load_buffer(buffer.baseAddress, buffer.count, $0) }
        }
        guard loaded.width > 0, loaded.height > 0, loaded.width * loaded.height <= maxPixels else {
            throw VipsError(operation: "dhash", bufferText: "the picture is empty or too large to hash")
        }
        let image =
            iris_vips_format(loaded.pointer) == Int32(VIPS_FORMAT_UCHAR.rawValue)
            ? loaded : try VipsImageHandle.make("cast") { iris_vips_cast_uchar(loaded.pointer, $0) }
        var length = 0
        guard let raw = iris_vips_pixels(image.pointer, &length) else { throw VipsError.take("write_to_memory") }
        defer { iris_vips_free(raw) }
        let (width, height, bands) = (image.width, image.height, image.bands)
        guard length >= width * height * bands else {
            throw VipsError(operation: "dhash", bufferText: "the picture's pixels are incomplete")
        }
        let bytes = UnsafeBufferPointer(start: raw.assumingMemoryBound(to: UInt8.self), count: length)
        var sums = [Double](repeating: 0, count: 72)
        var counts = [Double](repeating: 0, count: 72)
        for y in 0..<height {
            let row = y * 8 / height
            for x in 0..<width {
                let at = (y * width + x) * bands
                let grey =
                    bands >= 3
                    ? 0.299 * Double(bytes[at]) + 0.587 * Double(bytes[at + 1]) + 0.114 * Double(bytes[at + 2])
                    : Double(bytes[at])
                let cell = row * 9 + x * 9 / width
                sums[cell] += grey
                counts[cell] += 1
            }
        }
        let means = zip(sums, counts).map { $1 > 0 ? $0 / $1 : 0 }
        var hash: UInt64 = 0
        for row in 0..<8 {
            for column in 0..<8 where means[row * 9 + column] > means[row * 9 + column + 1] {
                hash |= 1 << UInt64(row * 8 + column)
            }
        }
        return hash
    }

    /// How many of the 64 bits two hashes differ in.
    public static func distance(_ a: UInt64, _ b: UInt64) -> Int { (a ^ b).nonzeroBitCount }
}
