/// The image formats Iris accepts. Accepted by magic bytes only: a file's name and
/// declared Content-Type are never trusted.
public enum ImageFormat: String, Sendable, Codable, CaseIterable {
    case jpeg, png, webp, heif, gif, tiff

    /// Bytes needed from the start of a file to recognise every format.
    public static let sniffLength = 32

    public var mediaType: String {
        switch self {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .webp: "image/webp"
        case .heif: "image/heif"
        case .gif: "image/gif"
        case .tiff: "image/tiff"
        }
    }

    /// The name a person knows the format by, for messages.
    public var displayName: String {
        switch self {
        case .jpeg: "JPEG"
        case .png: "PNG"
        case .webp: "WebP"
        case .heif: "HEIF"
        case .gif: "GIF"
        case .tiff: "TIFF"
        }
    }

    /// Recognises a format from the first bytes of a file, or nil when it is none Iris accepts.
    public static func sniff<Bytes: Collection>(_ bytes: Bytes) -> ImageFormat? where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(sniffLength))
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + prefix.count && Array(head[offset..<offset + prefix.count]) == prefix
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        // ISO base media file: "ftyp" at offset 4, then a brand naming HEIF/HEIC/AVIF-family still images.
        if starts(Array("ftyp".utf8), at: 4), head.count >= 12 {
            let brand = String(decoding: head[8..<12], as: UTF8.self)
            let heifBrands: Set<String> = ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"]
            if heifBrands.contains(brand) { return .heif }
        }
        return nil
    }
}
