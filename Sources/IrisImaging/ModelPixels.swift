import CVips
import Foundation

/// 8-bit RGB pixels prepared for a neural network's input, row-major, 3 bytes a pixel.
public struct ModelPixels: Sendable {
    public let width: Int
    public let height: Int
    public let rgb: [UInt8]
    /// Width and height of the upright original these pixels were made from.
    public let sourceWidth: Int
    public let sourceHeight: Int

    /// How the image is brought to the input size.
    public enum Fit: Sendable, Equatable {
        /// Shorter side to `shortSide`, then the centre `width`×`height` (torchvision's
        /// "resize 256, centre-crop 224").
        case centreCrop(shortSide: Int)
        /// Exactly `width`×`height`, ignoring the aspect ratio.
        case stretch
        /// Inside `width`×`height`, keeping the aspect ratio.
        case fit
    }

    public init(width: Int, height: Int, rgb: [UInt8], sourceWidth: Int? = nil, sourceHeight: Int? = nil) {
        precondition(rgb.count == width * height * 3, "\(rgb.count) bytes is not \(width)×\(height) RGB")
        self.width = width
        self.height = height
        self.rgb = rgb
        self.sourceWidth = sourceWidth ?? width
        self.sourceHeight = sourceHeight ?? height
    }

    /// Decodes `path` with shrink-on-load straight to (about) the size wanted.
    public static func load(path: String, width: Int, height: Int, fit: Fit) throws -> ModelPixels {
        try Vips.start()
        var pointer: UnsafeMutableRawPointer?
        var outWidth: Int32 = 0
        var outHeight: Int32 = 0
        var source: [Int32] = [0, 0]
        let (mode, shortSide): (Int32, Int32) =
            switch fit {
            case .centreCrop(let shortSide): (0, Int32(shortSide))
            case .stretch: (1, 0)
            case .fit: (2, 0)
            }
        guard
            iris_vips_model_pixels(
                path, mode, shortSide, Int32(width), Int32(height), &pointer, &outWidth, &outHeight, &source) == 0,
            let pointer
        else { throw VipsError.take("preparing model input") }
        defer { iris_vips_free(pointer) }
        let count = Int(outWidth) * Int(outHeight) * 3
        let bytes = Array(UnsafeBufferPointer(start: pointer.assumingMemoryBound(to: UInt8.self), count: count))
        return ModelPixels(
            width: Int(outWidth), height: Int(outHeight), rgb: bytes, sourceWidth: Int(source[0]),
            sourceHeight: Int(source[1]))
    }

    /// The pixels of a rectangle (clamped to the image).
    public func crop(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) -> ModelPixels {
        let left = max(0, min(x, width - 1))
        let top = max(0, min(y, height - 1))
        let right = max(left + 1, min(x + cropWidth, width))
        let bottom = max(top + 1, min(y + cropHeight, height))
        var out: [UInt8] = []
        out.reserveCapacity((right - left) * (bottom - top) * 3)
        for row in top..<bottom {
            out.append(contentsOf: rgb[(row * width + left) * 3..<(row * width + right) * 3])
        }
        return ModelPixels(width: right - left, height: bottom - top, rgb: out)
    }

    /// Bilinear resize to exactly `newWidth`×`newHeight` (used for small crops, where
    /// decoding again would cost more than it saves).
    public func resized(width newWidth: Int, height newHeight: Int) -> ModelPixels {
        if newWidth == width && newHeight == height { return self }
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        let xScale = Double(width) / Double(newWidth)
        let yScale = Double(height) / Double(newHeight)
        for y in 0..<newHeight {
            let sy = max(0, (Double(y) + 0.5) * yScale - 0.5)
            let y0 = min(Int(sy), height - 1)
            let y1 = min(y0 + 1, height - 1)
            let fy = sy - Double(y0)
            for x in 0..<newWidth {
                let sx = max(0, (Double(x) + 0.5) * xScale - 0.5)
                let x0 = min(Int(sx), width - 1)
                let x1 = min(x0 + 1, width - 1)
                let fx = sx - Double(x0)
                for c in 0..<3 {
                    let a = Double(rgb[(y0 * width + x0) * 3 + c])
                    let b = Double(rgb[(y0 * width + x1) * 3 + c])
                    let d = Double(rgb[(y1 * width + x0) * 3 + c])
                    let e = Double(rgb[(y1 * width + x1) * 3 + c])
                    let value = (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy
                    out[(y * newWidth + x) * 3 + c] = UInt8(max(0, min(255, value.rounded())))
                }
            }
        }
        return ModelPixels(width: newWidth, height: newHeight, rgb: out)
    }
}
