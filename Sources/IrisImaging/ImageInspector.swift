import CVips
public import Foundation
public import IrisCore

/// What an image's header says, read without decoding its pixels.
public struct ImageProbe: Sendable, Equatable {
    public var format: ImageFormat
    /// Displayed size: EXIF orientations 5–8 swap the stored width and height.
    public var width: Int
    public var height: Int
    public var orientation: Int
    public var capturedAt: Date?
}

/// Reads image headers and makes metadata-free JPEG thumbnails, with libvips.
///
/// Every function here blocks while libvips works; call them off the event loop.
public struct ImageInspector: Sendable {
    public let maxPixels: Int64
    public let thumbnailQuality: Int

    public init(maxPixels: Int64 = 100_000_000, thumbnailQuality: Int = 82) throws {
        try Vips.start()
        self.maxPixels = maxPixels
        self.thumbnailQuality = thumbnailQuality
    }

    /// Sniffs the format from magic bytes, then reads the header (no pixels are decoded).
    /// Throws an `.unsupportedFormat` `Refusal` for formats Iris does not accept and `.unprocessable` for images
    /// over the pixel limit or with an unreadable header.
    public func probe(path: String) throws -> ImageProbe {
        let (format, image) = try Self.header(path: path, field: "file")
        try Self.checkPixels(width: image.width, height: image.height, limit: maxPixels, field: "file")
        let orientation = image.orientation
        let swapped = (5...8).contains(orientation)
        return ImageProbe(
            format: format,
            width: swapped ? image.height : image.width,
            height: swapped ? image.width : image.height,
            orientation: orientation,
            capturedAt: Self.captureDate(image)
        )
    }

    /// An accepted image's stored width and height, from its header alone (no pixels decoded):
    /// `.unsupportedFormat` for other files, `.unprocessable` when the header cannot be read.
    public static func headerSize(path: String, field: String = "file") throws -> (width: Int, height: Int) {
        let (_, image) = try header(path: path, field: field)
        return (image.width, image.height)
    }

    /// The file's accepted format and its header, opened lazily (no pixels decoded); the same
    /// refusals for every caller.
    static func header(path: String, field: String) throws -> (ImageFormat, VipsImageHandle) {
        guard let format = try sniff(path: path) else {
            throw Refusal.unsupportedFormat(
                "the file is not an image Iris accepts (JPEG, PNG, WebP, HEIC/HEIF, GIF or TIFF, recognised by content)",
                field: field)
        }
        guard let pointer = iris_vips_open(path) else {
            // libvips's message is not passed on (its error buffer is shared by every thread).
            vips_error_clear()
            throw Refusal.unprocessable(
                "unreadable-image",
                "the \(format.displayName) header cannot be read: the file is damaged or is not really \(format.displayName)",
                field: field)
        }
        return (format, VipsImageHandle(pointer))
    }

    /// The `.unprocessable` `too-many-pixels` refusal when `width`×`height` is over `limit`:
    /// every path that decodes a caller's file asks this of its header first, because a
    /// few-MB PNG can declare 10⁹ pixels and cost minutes of CPU to decode.
    public static func checkPixels(width: Int, height: Int, limit: Int64, field: String) throws {
        let pixels = Int64(width) * Int64(height)
        guard pixels <= limit else {
            throw Refusal.unprocessable(
                "too-many-pixels", "the image is \(width)×\(height) = \(pixels) pixels; the limit is \(limit)",
                field: field)
        }
    }

    /// Makes one JPEG per size (longest side ≤ size, never enlarged), EXIF orientation
    /// applied, colours in sRGB, all metadata stripped. Decoding the whole file here is also the check that
    /// it is not truncated or corrupt (422).
    public func thumbnails(path: String, sizes: [Int]) throws -> [Int: Data] {
        let ordered = sizes.sorted(by: >)
        guard let largest = ordered.first else { return [:] }
        let format = try Self.sniff(path: path)
        do {
            // Shrink-on-load straight to the largest size, then each smaller one from that in memory.
            let fromJPEG = format == .jpeg ? try jpegThumbnail(path: path, size: largest) : nil
            let loaded =
                try fromJPEG ?? VipsImageHandle.make("thumbnail") { iris_vips_thumbnail_file(path, $0, Int32(largest)) }
            let decoded = try VipsImageHandle.make("copy") { iris_vips_copy_memory(loaded.pointer, $0) }
            // Thumbnails carry no profile, and browsers take such JPEGs as sRGB: the colours of a
            // Display P3 or Adobe RGB photo are converted, not just relabelled.
            let base = try VipsImageHandle.make("icc_transform") { iris_vips_to_srgb(decoded.pointer, $0) }
            var result: [Int: Data] = [:]
            for size in ordered {
                let sized =
                    size == largest
                    ? base
                    : try VipsImageHandle.make("thumbnail") { iris_vips_thumbnail_image(base.pointer, $0, Int32(size)) }
                result[size] = try jpeg(sized)
            }
            return result
        } catch is VipsError {
            // libvips's own message is not passed on: its error buffer is shared by every thread,
            // so it may describe another request's file (or name a server path).
            let name = format.map { "the \($0.displayName) image data" } ?? "the image data"
            throw Refusal.unprocessable("corrupt-image", "\(name) is corrupt or truncated", field: "file")
        }
    }

    /// A JPEG's largest thumbnail from Iris's strict libjpeg decode (`jpeg.h`), the integrity
    /// check every JPEG passes: deterministic, and any damage libjpeg notices refuses the file
    /// with libjpeg's own words. Nil for CMYK files, which libvips converts (they are checked all the same).
    func jpegThumbnail(path: String, size: Int) throws -> VipsImageHandle? {
        guard let header = iris_vips_open(path) else {
            throw Refusal.unprocessable(
                "corrupt-image", "the JPEG header cannot be read (the file is damaged)", field: "file")
        }
        defer { iris_vips_unref(header) }
        var message = [CChar](repeating: 0, count: 256)
        var source: UnsafeMutablePointer<VipsImage>?
        switch iris_jpeg_thumbnail_source(path, header, Int32(size), &source, &message, message.count) {
        case 0:
            guard let source else { return nil }
            let image = VipsImageHandle(source)
            return try VipsImageHandle.make("thumbnail") { iris_vips_thumbnail_image(image.pointer, $0, Int32(size)) }
        case 1:
            return nil
        default:
            let said = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
            throw Refusal.unprocessable(
                "corrupt-image", "the JPEG data is corrupt or truncated (\(said.isEmpty ? "unreadable" : said))",
                field: "file")
        }
    }

    private func jpeg(_ image: VipsImageHandle) throws -> Data {
        let opaque =
            image.hasAlpha ? try VipsImageHandle.make("flatten") { iris_vips_flatten_white(image.pointer, $0) } : image
        return try opaque.encode("jpegsave") {
            iris_vips_jpeg_stripped(opaque.pointer, $0, $1, Int32(thumbnailQuality))
        }
    }

    /// Reads the first bytes of a file and recognises its format.
    public static func sniff(path: String) throws -> ImageFormat? {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Refusal.invalid("the uploaded file cannot be read back", field: "file")
        }
        defer { try? handle.close() }
        let head = try handle.read(upToCount: ImageFormat.sniffLength) ?? Data()
        return ImageFormat.sniff(head)
    }

    /// EXIF DateTimeOriginal (or DateTime) as a date; EXIF has no zone, so it is read as UTC.
    static func captureDate(_ image: VipsImageHandle) -> Date? {
        for field in ["exif-ifd2-DateTimeOriginal", "exif-ifd0-DateTime"] {
            guard let text = image.string(field), text.count >= 19 else { continue }
            // libvips renders "2021:06:01 10:20:30 (2021:06:01 10:20:30, ASCII, 20 components, 20 bytes)".
            let stamp = String(text.prefix(19))
            let digits = stamp.split(whereSeparator: { $0 == ":" || $0 == " " }).compactMap { Int($0) }
            guard digits.count == 6, digits[0] > 1800 else { continue }
            var components = DateComponents()
            components.calendar = Calendar(identifier: .gregorian)
            components.timeZone = TimeZone(identifier: "UTC")
            (components.year, components.month, components.day) = (digits[0], digits[1], digits[2])
            (components.hour, components.minute, components.second) = (digits[3], digits[4], digits[5])
            if let date = components.date { return date }
        }
        return nil
    }
}
