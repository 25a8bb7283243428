import CRepair
import CVips
public import Foundation
public import IrisCore

/// Repairs the masked part of a photo from the rest of it (and from exemplar photos), with
/// the exemplar-based inpainter in CRepair. Large photos are repaired in crops around each
/// masked part, at a bounded working size, and pasted back into the full-resolution
/// original with a feathered seam, so the cost follows the size of the hole, not of the photo.
///
/// Blocks while it works; call it off the event loop.
public struct Repairer: Sendable {
    public struct Options: Sendable {
        public init(seed: UInt64 = 1) { self.seed = seed }

        /// The same seed, photo and mask give the same result.
        public var seed: UInt64
        public var iterations = 3
        public var patchRadius = 3
        public var threads = 2
        /// Photos whose longer side is above this are repaired in crops (IOPaint's "crop" trigger).
        public var cropTrigger = 800
        /// The context kept around each masked part of a crop.
        public var cropMargin = 128
        /// A crop of more pixels than this is repaired scaled down to it, then scaled back.
        public var workingPixels = 1_000_000
        /// And a crop whose hole has more pixels than this is scaled down until it has no more:
        /// the cost follows the hole's size, so a large hole in a large photo is repaired at a
        /// lower resolution (its fill is softer than the photo around it).
        public var workingHolePixels = 120_000
        /// Most exemplar photos one repair reads.
        public var maxExemplars = 8
        /// How the fill ends deep in the hole.
        public var finish = Finish.texture
    }

    /// Texture copied into the middle of a large hole is a plausible guess, rarely the lost
    /// pixels: `.texture` keeps it (a photo-like result); `.smooth` fades it with the distance
    /// into the hole towards the fill's local mean, which is closer to the lost pixels on average
    /// (higher PSNR and SSIM) but blurred in the middle of a large hole.
    public enum Finish: Sendable {
        case texture, smooth
    }

    public struct Result: Sendable {
        /// The repaired photo, encoded: JPEG (quality 92) when the original was an 8-bit JPEG, else PNG.
        public var data: Data
        public var format: ImageFormat
        public var width: Int
        public var height: Int
        public var maskedPixels: Int
        /// The crops repaired, and the pixels they were repaired at in all.
        public var regions: Int
        public var workingPixels: Int
        public var exemplars: Int
    }

    /// An inpainting network as a repair method: it takes RGB values (row by row, 0–255) and a
    /// mask (1 = repair) at its fixed size and answers the repaired RGB values. Each crop is
    /// stretched to that size, and the answer scaled back and pasted like the built-in's.
    public struct Network: Sendable {
        public init(width: Int, height: Int, run: @escaping @Sendable ([Float], [Float]) throws -> [Float]) {
            self.width = width
            self.height = height
            self.run = run
        }

        public var width: Int
        public var height: Int
        public var run: @Sendable (_ rgb: [Float], _ mask: [Float]) throws -> [Float]
    }

    public let maxPixels: Int64

    public init(maxPixels: Int64 = 100_000_000) throws {
        try Vips.start()
        self.maxPixels = maxPixels
    }

    /// Repairs `image` where `mask` (a picture of the photo's size, white = repair) is marked.
    /// `progress` gets the share done and answers false to cancel (`CancellationError`).
    /// Refusals name the `mask` or `image` field.
    public func repair(
        image path: String, mask maskPath: String, exemplars: [String] = [], network: Network? = nil,
        options: Options = Options(), progress: @escaping (Double) -> Bool = { _ in true }
    ) throws -> Result {
        guard let format = try ImageInspector.sniff(path: path) else {
            throw Refusal.unsupportedFormat("the photo to repair is not an image Iris accepts", field: "image")
        }
        // The header first: a photo over the limit is refused before its pixels are decoded.
        guard let header = iris_vips_open(path) else {
            vips_error_clear()
            throw Refusal.unprocessable(
                "corrupt-image", "the photo cannot be decoded (damaged or truncated)", field: "image")
        }
        let unread = VipsImageHandle(header)
        try ImageInspector.checkPixels(width: unread.width, height: unread.height, limit: maxPixels, field: "image")
        let photo = try opened(path, what: "the photo", field: "image")
        let width = photo.width
        let height = photo.height
        guard (1...4).contains(photo.bands) else {
            throw Refusal.unprocessable(
                "unsupported-image", "photos with \(photo.bands) channels cannot be repaired", field: "image")
        }
        let deep = iris_vips_format(photo.pointer) == Int32(VIPS_FORMAT_USHORT.rawValue)
        let pixelFormat = deep ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR
        var base =
            iris_vips_format(photo.pointer) == Int32(pixelFormat.rawValue)
            ? photo
            : try VipsImageHandle.make("cast") { iris_vips_cast(photo.pointer, $0, Int32(pixelFormat.rawValue)) }

        if network != nil, photo.bands != 3 {
            throw Refusal.unprocessable(
                "unsupported-image",
                "inpainting networks repair RGB photos; this one has \(photo.bands) channels (use the exemplar method)",
                field: "method")
        }
        let mask = try maskImage(maskPath, width: width, height: height)
        let maskBytes = try bytes(of: mask)
        let marked = try Self.countMarked(maskBytes)
        let boxes = regions(maskBytes, width: width, height: height, options: options)
        // Decoded once, shrunk on load to about the working size; each crop takes them at its own.
        let domain =
            network == nil
            ? domainPhotos(exemplars.prefix(options.maxExemplars), bands: photo.bands, options: options) : []
        var working = 0
        var used = 0
        for (index, box) in boxes.enumerated() {
            let crop = try VipsImageHandle.make("extract_area") {
                iris_vips_extract_area(base.pointer, $0, box.x, box.y, box.width, box.height)
            }
            let cropMask = try VipsImageHandle.make("extract_area") {
                iris_vips_extract_area(mask.pointer, $0, box.x, box.y, box.width, box.height)
            }
            let area = Int(box.width) * Int(box.height)
            let holePixels = boxes.count == 1 ? marked : Int(box.pixels)
            let scale = min(
                1, (Double(options.workingPixels) / Double(area)).squareRoot(),
                (Double(options.workingHolePixels) / Double(max(holePixels, 1))).squareRoot())
            let workWidth = network?.width ?? max(1, Int((Double(box.width) * scale).rounded()))
            let workHeight = network?.height ?? max(1, Int((Double(box.height) * scale).rounded()))
            let scaled = workWidth != Int(box.width) || workHeight != Int(box.height)
            let workImage =
                scaled
                ? try VipsImageHandle.make("resize") {
                    iris_vips_resize_to(crop.pointer, $0, Int32(workWidth), Int32(workHeight), 0)
                } : crop
            // A scaled-down mask marks every pixel any part of the hole falls in.
            let workMask: VipsImageHandle
            if scaled {
                let linear = try VipsImageHandle.make("resize") {
                    iris_vips_resize_to(cropMask.pointer, $0, Int32(workWidth), Int32(workHeight), 1)
                }
                workMask = try VipsImageHandle.make("at_least") { iris_vips_at_least(linear.pointer, $0, 1) }
            } else {
                workMask = cropMask
            }
            var pixels = try floats(of: workImage, deep: deep)
            let hole = try bytes(of: workMask)
            if let network {
                guard progress(Double(index) / Double(boxes.count)) else { throw CancellationError() }
                let answer = try network.run(pixels, hole.map { $0 != 0 ? 1 : 0 })
                guard answer.count == pixels.count else {
                    throw Refusal.unprocessable(
                        "repair-failed", "the network answered \(answer.count) values, not \(pixels.count)",
                        field: "method")
                }
                pixels = answer
            } else {
                let sources = try exemplarPixels(domain, pixels: workWidth * workHeight)
                used = max(used, sources.count)
                let share = (Double(index), Double(boxes.count))
                let status = run(
                    &pixels, width: workWidth, height: workHeight, channels: photo.bands, hole: hole,
                    exemplars: sources, options: options
                ) { fraction in progress((share.0 + fraction) / share.1) }
                switch status {
                case Int32(IRIS_REPAIR_OK): break
                case Int32(IRIS_REPAIR_CANCELLED): throw CancellationError()
                case Int32(IRIS_REPAIR_NO_SOURCE):
                    throw Refusal.invalid(
                        "the mask leaves too little of the photo around the hole to repair it from", field: "mask")
                case Int32(IRIS_REPAIR_EMPTY_MASK):
                    continue
                case Int32(IRIS_REPAIR_NO_MEMORY):
                    throw Refusal.unavailable("there was not enough memory to repair this photo")
                default:
                    throw Refusal.unprocessable("repair-failed", "the photo could not be repaired", field: "image")
                }
            }
            working += workWidth * workHeight
            let repaired = try image(from: pixels, width: workWidth, height: workHeight, bands: photo.bands, deep: deep)
            let full =
                scaled
                ? try VipsImageHandle.make("resize") {
                    iris_vips_resize_to(repaired.pointer, $0, box.width, box.height, 0)
                } : repaired
            let feather = try VipsImageHandle.make("feather") { iris_vips_feather(cropMask.pointer, $0, 2, 1.5) }
            let blended = try VipsImageHandle.make("blend") {
                iris_vips_blend(feather.pointer, full.pointer, crop.pointer, $0)
            }
            base = try VipsImageHandle.make("insert") {
                iris_vips_insert(base.pointer, blended.pointer, $0, box.x, box.y)
            }
        }
        let jpeg = format == .jpeg && !deep && !base.hasAlpha
        let data =
            jpeg
            ? try base.encode("jpegsave") { iris_vips_jpeg_stripped(base.pointer, $0, $1, 92) }
            : try base.encode("pngsave") { iris_vips_png(base.pointer, $0, $1) }
        return Result(
            data: data, format: jpeg ? .jpeg : .png, width: width, height: height, maskedPixels: marked,
            regions: boxes.count, workingPixels: working, exemplars: used)
    }

    /// Checks a mask for a photo of `width` × `height` (as displayed) and answers it as a
    /// one-band PNG (255 = repair) with the number of pixels it marks. Refusals name `mask`.
    public func checkedMask(path: String, width: Int, height: Int) throws -> (png: Data, marked: Int) {
        let mask = try maskImage(path, width: width, height: height)
        let marked = try Self.countMarked(try bytes(of: mask))
        return (try mask.encode("pngsave") { iris_vips_png(mask.pointer, $0, $1) }, marked)
    }

    static func countMarked(_ mask: [UInt8]) throws -> Int {
        let marked = mask.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        guard marked > 0 else {
            throw Refusal.invalid("the mask marks nothing: paint the part to repair in white", field: "mask")
        }
        guard marked < mask.count else {
            throw Refusal.invalid("the mask covers the whole photo: nothing is left to repair it from", field: "mask")
        }
        return marked
    }

    // MARK: - Parts

    private func opened(_ path: String, what: String, field: String) throws -> VipsImageHandle {
        do {
            let image = try VipsImageHandle.make("open") { iris_vips_open_oriented(path, $0) }
            // Decoded once here: a damaged file fails now, with a message of our own.
            return try VipsImageHandle.make("copy") { iris_vips_copy_memory(image.pointer, $0) }
        } catch is VipsError {
            throw Refusal.unprocessable(
                "corrupt-image", "\(what) cannot be decoded (damaged or truncated)", field: field)
        }
    }

    private func maskImage(_ path: String, width: Int, height: Int) throws -> VipsImageHandle {
        guard (try? ImageInspector.sniff(path: path)) ?? nil != nil else {
            throw Refusal.invalid(
                "the mask is not an image: send a PNG the size of the photo, white where it is to be repaired",
                field: "mask")
        }
        guard let header = iris_vips_open(path) else {
            vips_error_clear()
            throw Refusal.invalid("the mask cannot be read (damaged or truncated)", field: "mask")
        }
        let unread = VipsImageHandle(header)
        guard unread.width == width, unread.height == height else {
            throw Refusal.invalid(
                "the mask is \(unread.width)×\(unread.height) pixels; it must be the photo's size, \(width)×\(height)",
                field: "mask")
        }
        let decoded = try opened(path, what: "the mask", field: "mask")
        return try VipsImageHandle.make("mask") { iris_vips_mask_from(decoded.pointer, $0) }
    }

    private func regions(_ mask: [UInt8], width: Int, height: Int, options: Options) -> [iris_repair_box] {
        guard max(width, height) > options.cropTrigger else {
            return [iris_repair_box(x: 0, y: 0, width: Int32(width), height: Int32(height), pixels: 0)]
        }
        var capacity = 64
        while true {
            var boxes = [iris_repair_box](repeating: iris_repair_box(), count: capacity)
            let found = Int(
                iris_repair_boxes(mask, Int32(width), Int32(height), Int32(options.cropMargin), &boxes, Int32(capacity))
            )
            if found < 0 {
                return [iris_repair_box(x: 0, y: 0, width: Int32(width), height: Int32(height), pixels: 0)]
            }
            if found <= capacity { return Array(boxes.prefix(found)) }
            capacity = found
        }
    }

    private func bytes(of image: VipsImageHandle) throws -> [UInt8] {
        var length = 0
        guard let raw = iris_vips_pixels(image.pointer, &length) else { throw VipsError.take("write_to_memory") }
        defer { iris_vips_free(raw) }
        return Array(UnsafeBufferPointer(start: raw.assumingMemoryBound(to: UInt8.self), count: length))
    }

    /// The pixels as floats on 0–255 (16-bit values divided by 257).
    private func floats(of image: VipsImageHandle, deep: Bool) throws -> [Float] {
        let float = try VipsImageHandle.make("cast") {
            iris_vips_cast(image.pointer, $0, Int32(VIPS_FORMAT_FLOAT.rawValue))
        }
        var length = 0
        guard let raw = iris_vips_pixels(float.pointer, &length) else { throw VipsError.take("write_to_memory") }
        defer { iris_vips_free(raw) }
        let values = UnsafeBufferPointer(start: raw.assumingMemoryBound(to: Float.self), count: length / 4)
        return deep ? values.map { $0 / 257 } : Array(values)
    }

    private func image(from pixels: [Float], width: Int, height: Int, bands: Int, deep: Bool) throws
        -> VipsImageHandle
    {
        // Rounded to the nearest value, and kept in range, before the cast back.
        let top: Float = deep ? 65535 : 255
        let values = pixels.map { min(top, max(0, (deep ? $0 * 257 : $0).rounded())) }
        let floatImage = try values.withUnsafeBytes { buffer in
            try VipsImageHandle.make("from_memory") {
                iris_vips_from_pixels(
                    buffer.baseAddress, buffer.count, Int32(width), Int32(height), Int32(bands),
                    Int32(VIPS_FORMAT_FLOAT.rawValue), $0)
            }
        }
        let format = deep ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR
        let cast = try VipsImageHandle.make("cast") {
            iris_vips_cast(floatImage.pointer, $0, Int32(format.rawValue))
        }
        return try VipsImageHandle.make("copy") {
            iris_vips_interpreted(cast.pointer, $0, iris_vips_usual_interpretation(Int32(bands), deep ? 1 : 0))
        }
    }

    /// The exemplar photos that can be read and have the photo's channels, EXIF orientation
    /// applied, no larger than a crop is repaired at (an unreadable one is left out).
    private func domainPhotos(_ paths: ArraySlice<String>, bands: Int, options: Options) -> [VipsImageHandle] {
        let longest = Int32((Double(options.workingPixels) * 2).squareRoot())
        return paths.compactMap { path in
            guard
                let shrunk = try? VipsImageHandle.make("thumbnail", { iris_vips_thumbnail_file(path, $0, longest) }),
                let image = try? VipsImageHandle.make("copy", { iris_vips_copy_memory(shrunk.pointer, $0) }),
                image.bands == bands
            else {
                vips_error_clear()
                return nil
            }
            return image
        }
    }

    /// Exemplar photos at no more pixels than the crop, as floats on 0–255.
    private func exemplarPixels(_ images: [VipsImageHandle], pixels: Int) throws
        -> [(pixels: [Float], width: Int, height: Int)]
    {
        var result: [(pixels: [Float], width: Int, height: Int)] = []
        for image in images {
            let area = image.width * image.height
            let scale = area > pixels ? (Double(pixels) / Double(area)).squareRoot() : 1
            let width = max(1, Int((Double(image.width) * scale).rounded()))
            let height = max(1, Int((Double(image.height) * scale).rounded()))
            let sized =
                scale < 1
                ? try VipsImageHandle.make("resize") {
                    iris_vips_resize_to(image.pointer, $0, Int32(width), Int32(height), 0)
                } : image
            let exemplarDeep = iris_vips_format(sized.pointer) == Int32(VIPS_FORMAT_USHORT.rawValue)
            // Both on 0–255 whatever their depth.
            result.append((try floats(of: sized, deep: exemplarDeep), width, height))
        }
        return result
    }

    private final class ProgressBox {
        let report: (Double) -> Bool
        init(_ report: @escaping (Double) -> Bool) { self.report = report }
    }

    private func run(
        _ pixels: inout [Float], width: Int, height: Int, channels: Int, hole: [UInt8],
        exemplars: [(pixels: [Float], width: Int, height: Int)], options: Options,
        progress: @escaping (Double) -> Bool
    ) -> Int32 {
        var settings = iris_repair_options(
            patch_radius: Int32(options.patchRadius), iterations: Int32(options.iterations), passes: 2,
            threads: Int32(options.threads), seed: options.seed,
            finish: Int32(options.finish == .smooth ? IRIS_REPAIR_SMOOTH : IRIS_REPAIR_TEXTURE))
        let box = ProgressBox(progress)
        let context = Unmanaged.passUnretained(box).toOpaque()
        let callback: iris_repair_progress = { context, fraction in
            guard let context else { return 0 }
            return Unmanaged<ProgressBox>.fromOpaque(context).takeUnretainedValue().report(fraction) ? 0 : 1
        }
        // The exemplars' buffers stay alive (and pinned) for the call.
        return withExtendedLifetime(box) {
            withPinned(exemplars) { described in
                pixels.withUnsafeMutableBufferPointer { buffer in
                    iris_repair(
                        buffer.baseAddress, Int32(width), Int32(height), Int32(channels), hole, described,
                        Int32(described.count), &settings, callback, context)
                }
            }
        }
    }

    private func withPinned<T>(
        _ exemplars: [(pixels: [Float], width: Int, height: Int)], _ body: ([iris_repair_exemplar]) throws -> T
    ) rethrows -> T {
        var described: [iris_repair_exemplar] = []
        func pin(_ index: Int) throws -> T {
            guard index < exemplars.count else { return try body(described) }
            return try exemplars[index].pixels.withUnsafeBufferPointer { buffer in
                described.append(
                    iris_repair_exemplar(
                        pixels: buffer.baseAddress, width: Int32(exemplars[index].width),
                        height: Int32(exemplars[index].height), excluded: nil))
                return try pin(index + 1)
            }
        }
        return try pin(0)
    }
}
