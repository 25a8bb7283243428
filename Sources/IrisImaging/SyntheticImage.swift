import CVips
public import Foundation
public import IrisCore

/// Encodes generated images in any accepted format: fixtures for tests and benchmarks,
/// made on the spot instead of committed as binary files.
public enum SyntheticImage {
    /// A colour gradient of the given size, encoded by libvips's saver for `format`.
    /// `seed` shifts the gradient so different seeds give different bytes.
    public static func encode(width: Int, height: Int, format: ImageFormat, alpha: Bool = false, seed: Int = 0) throws
        -> Data
    {
        try Vips.start()
        let xyz = try VipsImageHandle.make("xyz") { iris_vips_xyz($0, Int32(width), Int32(height)) }
        // Two bands (x, y) scaled into 0...255, plus a third from the seed, give RGB.
        let scale = 255.0 / Double(max(width, height, 1))
        let rg = try VipsImageHandle.make("linear") { iris_vips_linear1(xyz.pointer, $0, scale, Double(seed % 64)) }
        let blue = try VipsImageHandle.make("black") { iris_vips_black($0, Int32(width), Int32(height), 1) }
        let blueShifted = try VipsImageHandle.make("linear") {
            iris_vips_linear1(blue.pointer, $0, 1, Double((seed * 37) % 256))
        }
        var rgb = try VipsImageHandle.make("bandjoin") { iris_vips_bandjoin2(rg.pointer, blueShifted.pointer, $0) }
        if alpha {
            let opacity = try VipsImageHandle.make("black") { iris_vips_black($0, Int32(width), Int32(height), 1) }
            let half = try VipsImageHandle.make("linear") { iris_vips_linear1(opacity.pointer, $0, 1, 128) }
            rgb = try VipsImageHandle.make("bandjoin") { iris_vips_bandjoin2(rgb.pointer, half.pointer, $0) }
        }
        let suffix: String =
            switch format {
            case .jpeg: ".jpg"
            case .png: ".png"
            case .webp: ".webp"
            case .heif: ".heic"
            case .gif: ".gif"
            case .tiff: ".tif"
            }
        return try rgb.encode("save \(suffix)") { iris_vips_save_buffer(rgb.pointer, suffix, $0, $1) }
    }

    /// A black 1-bit PNG: a few kilobytes on disk, `width × height` pixels once decoded.
    public static func pixelBombPNG(width: Int, height: Int) throws -> Data {
        try Vips.start()
        let black = try VipsImageHandle.make("black") { iris_vips_black($0, Int32(width), Int32(height), 1) }
        return try black.encode("pngsave") { iris_vips_png_bitdepth(black.pointer, 1, $0, $1) }
    }

    /// Width and height of encoded image bytes as libvips reads them (before EXIF orientation).
    public static func dimensions(of data: Data) throws -> (width: Int, height: Int) {
        try Vips.start()
        let image = try data.withUnsafeBytes { buffer in
            try VipsImageHandle.make("load") { iris_vips_load_buffer(buffer.baseAddress, buffer.count, $0) }
        }
        return (image.width, image.height)
    }

    /// Every metadata field name libvips sees in encoded image bytes (EXIF, XMP, ICC, ...).
    public static func metadataFields(of data: Data) throws -> [String] {
        try Vips.start()
        let image = try data.withUnsafeBytes { buffer in
            try VipsImageHandle.make("load") { iris_vips_load_buffer(buffer.baseAddress, buffer.count, $0) }
        }
        guard let names = vips_image_get_fields(image.pointer) else { return [] }
        defer { g_strfreev(names) }
        var result: [String] = []
        var index = 0
        while let name = names[index] {
            result.append(String(cString: name))
            index += 1
        }
        return result
    }

    /// A PNG of raw pixels: `values` row by row, `bands` per pixel, 8-bit or (`sixteenBit`) 16-bit.
    public static func png(width: Int, height: Int, bands: Int, values: [Int], sixteenBit: Bool = false) throws -> Data
    {
        try Vips.start()
        precondition(values.count == width * height * bands)
        let format = sixteenBit ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR
        let bytes: [UInt8] =
            sixteenBit
            ? values.flatMap { value -> [UInt8] in
                withUnsafeBytes(of: UInt16(clamping: value)) { Array($0) }
            } : values.map { UInt8(clamping: $0) }
        let raw = try bytes.withUnsafeBytes { buffer in
            try VipsImageHandle.make("from_memory") {
                iris_vips_from_pixels(
                    buffer.baseAddress, buffer.count, Int32(width), Int32(height), Int32(bands),
                    Int32(format.rawValue), $0)
            }
        }
        let image = try VipsImageHandle.make("copy") {
            iris_vips_interpreted(raw.pointer, $0, iris_vips_usual_interpretation(Int32(bands), sixteenBit ? 1 : 0))
        }
        return try image.encode("pngsave") { iris_vips_png(image.pointer, $0, $1) }
    }

    /// Decoded pixels of encoded image bytes (before EXIF orientation), row by row.
    public static func pixels(of data: Data) throws -> (
        width: Int, height: Int, bands: Int, sixteenBit: Bool, values: [Int]
    ) {
        try Vips.start()
        let image = try data.withUnsafeBytes { buffer in
            try VipsImageHandle.make("load") { iris_vips_load_buffer(buffer.baseAddress, buffer.count, $0) }
        }
        let sixteenBit = iris_vips_format(image.pointer) == Int32(VIPS_FORMAT_USHORT.rawValue)
        var length = 0
        guard let raw = iris_vips_pixels(image.pointer, &length) else { throw VipsError.take("write_to_memory") }
        defer { iris_vips_free(raw) }
        let values: [Int] =
            sixteenBit
            ? UnsafeBufferPointer(start: raw.assumingMemoryBound(to: UInt16.self), count: length / 2).map { Int($0) }
            : UnsafeBufferPointer(start: raw.assumingMemoryBound(to: UInt8.self), count: length).map { Int($0) }
        return (image.width, image.height, image.bands, sixteenBit, values)
    }
}
