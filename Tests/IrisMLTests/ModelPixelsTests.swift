import Foundation
import IrisCore
import IrisImaging
import IrisTesting
import Testing

/// How images become model input (libvips shrink-on-load, one linear resize, EXIF
/// orientation, crop, alpha on white), checked on gradients whose every pixel is known:
/// red rises left to right (x × 255 / 2000), green top to bottom, blue is constant.
@Suite struct ModelPixelsTests {
    static func write(_ data: Data, _ suffix: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("iris-pixels-\(UUID())\(suffix)")
        try data.write(to: url)
        return url.path
    }

    static func pixel(_ pixels: ModelPixels, x: Int, y: Int) -> [Int] {
        (0..<3).map { Int(pixels.rgb[(y * pixels.width + x) * 3 + $0]) }
    }

    @Test func aCentreCropKeepsTheMiddleOfTheImageAtTheRightScale() throws {
        let jpeg = try Self.write(try SyntheticImage.encode(width: 2000, height: 1000, format: .jpeg), ".jpg")
        defer { try? FileManager.default.removeItem(atPath: jpeg) }
        let pixels = try ModelPixels.load(path: jpeg, width: 224, height: 224, fit: .centreCrop(shortSide: 256))
        #expect(pixels.width == 224 && pixels.height == 224)
        #expect(pixels.sourceWidth == 2000 && pixels.sourceHeight == 1000)
        // Shorter side 1000 → 256 (scale 0.256): the 224 crop spans x 562…1438 and y 62…938 of the original.
        let centre = Self.pixel(pixels, x: 112, y: 112)
        #expect(abs(centre[0] - 128) <= 3 && abs(centre[1] - 64) <= 3, "\(centre)")
        let left = Self.pixel(pixels, x: 0, y: 112)[0]
        let right = Self.pixel(pixels, x: 223, y: 112)[0]
        #expect(abs(left - 72) <= 4 && abs(right - 183) <= 4, "red from \(left) to \(right)")
        let top = Self.pixel(pixels, x: 112, y: 0)[1]
        let bottom = Self.pixel(pixels, x: 112, y: 223)[1]
        #expect(abs(top - 8) <= 4 && abs(bottom - 119) <= 4, "green from \(top) to \(bottom)")
    }

    /// A JPEG decoded at a reduced scale gives what the same picture as a PNG gives at full size.
    @Test func shrinkOnLoadAgreesWithAFullDecode() throws {
        let jpeg = try Self.write(try SyntheticImage.encode(width: 2000, height: 1000, format: .jpeg), ".jpg")
        let png = try Self.write(try SyntheticImage.encode(width: 2000, height: 1000, format: .png), ".png")
        defer { for path in [jpeg, png] { try? FileManager.default.removeItem(atPath: path) } }
        let shrunk = try ModelPixels.load(path: jpeg, width: 224, height: 224, fit: .centreCrop(shortSide: 256))
        let full = try ModelPixels.load(path: png, width: 224, height: 224, fit: .centreCrop(shortSide: 256))
        let difference = zip(shrunk.rgb, full.rgb).map { abs(Int($0) - Int($1)) }
        #expect(
            Double(difference.reduce(0, +)) / Double(difference.count) < 2,
            "mean difference \(Double(difference.reduce(0, +)) / Double(difference.count))")
    }

    /// Orientation 6 (turn 90° clockwise to show): red then rises top to bottom and green
    /// falls left to right, and the source size is the upright one.
    @Test func exifOrientationIsAppliedBeforeCropping() throws {
        let path = try Self.write(try Fixtures.exifJPEG(width: 2000, height: 1000, orientation: 6), ".jpg")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pixels = try ModelPixels.load(path: path, width: 224, height: 224, fit: .centreCrop(shortSide: 256))
        #expect(pixels.sourceWidth == 1000 && pixels.sourceHeight == 2000)
        let top = Self.pixel(pixels, x: 112, y: 0)[0]
        let bottom = Self.pixel(pixels, x: 112, y: 223)[0]
        #expect(bottom - top > 80, "red from \(top) to \(bottom)")
        let left = Self.pixel(pixels, x: 0, y: 112)[1]
        let right = Self.pixel(pixels, x: 223, y: 112)[1]
        #expect(left - right > 80, "green from \(left) to \(right)")
    }

    @Test func fitStretchAndTransparency() throws {
        let png = try Self.write(
            try SyntheticImage.encode(width: 2000, height: 1000, format: .png, alpha: true), ".png")
        defer { try? FileManager.default.removeItem(atPath: png) }
        let fitted = try ModelPixels.load(path: png, width: 320, height: 320, fit: .fit)
        #expect(fitted.width == 320 && fitted.height == 160)
        let stretched = try ModelPixels.load(path: png, width: 100, height: 300, fit: .stretch)
        #expect(stretched.width == 100 && stretched.height == 300)
        // Half-transparent black blue channel over white: 255 × 127 / 255 ≈ 127.
        let blue = Self.pixel(fitted, x: 0, y: 0)[2]
        #expect(abs(blue - 127) <= 2, "\(blue)")
    }
}

/// libvips's own warnings reach the handler Iris gives it (the server's log) instead of
/// standard error. The handler is process-wide and server tests running beside this one set
/// their own, so the warning is provoked up to five times.
@Suite struct VipsLogTests {
    @Test func warningsAboutADamagedFileGoToTheHandler() async throws {
        let jpeg = try Data(contentsOf: TestModels.root.appendingPathComponent(".cache/photos/rocket.jpg"))
        let damaged = FileManager.default.temporaryDirectory.appendingPathComponent("iris-damaged-\(UUID()).jpg")
        try jpeg.prefix(jpeg.count / 2).write(to: damaged)
        defer { try? FileManager.default.removeItem(at: damaged) }
        let heard = Captured()
        for _ in 0..<5 where heard.messages.isEmpty {
            Vips.onLog { warning, message in if warning { heard.append(message) } }
            _ = try? ModelPixels.load(path: damaged.path, width: 224, height: 224, fit: .stretch)
        }
        #expect(!heard.messages.isEmpty)
        #expect(heard.messages.allSatisfy { !$0.isEmpty })
    }

    /// libvips's info lines (how it plans each resize) stay off, as GLib keeps them by default.
    @Test func infoLinesAreNotPassedOn() throws {
        let heard = Captured()
        Vips.onLog { _, message in heard.append(message) }
        _ = try ModelPixels.load(path: TestModels.photo("coffee.png").path, width: 224, height: 224, fit: .stretch)
        #expect(!heard.messages.contains { $0.contains("residual") || $0.contains("point mask") }, "\(heard.messages)")
    }

    final class Captured: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        var messages: [String] { lock.withLock { stored } }
        func append(_ message: String) { lock.withLock { stored.append(message) } }
    }
}

/// Embedded ICC profiles: photos from phones and cameras often carry a wide-gamut profile
/// (Display P3, Adobe RGB), and the model must see the colours as sRGB.
@Suite struct ModelPixelsColourTests {
    static func centre(_ data: Data, suffix: String) throws -> [Int] {
        let path = try ModelPixelsTests.write(data, suffix)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return ModelPixelsTests.pixel(
            try ModelPixels.load(path: path, width: 64, height: 64, fit: .stretch), x: 32, y: 32)
    }

    @Test(arguments: [".jpg", ".png"]) func aDisplayP3PhotoIsSeenInSRGB(suffix: String) throws {
        try Vips.start()
        let centre = try Self.centre(
            try ColourFixtures.flat(ColourFixtures.p3Colour, profile: try ColourFixtures.displayP3(), suffix: suffix),
            suffix: suffix)
        #expect(
            zip(centre, ColourFixtures.p3ColourInSRGB).allSatisfy { abs($0 - $1) <= 3 },
            "\(centre), expected \(ColourFixtures.p3ColourInSRGB)")
    }

    /// A profile that describes sRGB itself changes nothing: the pixels are those of the same
    /// picture without a profile (byte for byte; no transform runs).
    @Test func anSRGBProfileLeavesThePixelsAsTheyAre() throws {
        try Vips.start()
        let tagged = try Self.centre(
            try ColourFixtures.flat(ColourFixtures.p3Colour, profile: try ColourFixtures.sRGB(), suffix: ".png"),
            suffix: ".png")
        let plain = try Self.centre(try ColourFixtures.flat(ColourFixtures.p3Colour, suffix: ".png"), suffix: ".png")
        #expect(tagged == plain && plain == ColourFixtures.p3Colour.map(Int.init), "\(tagged) vs \(plain)")
    }

    /// JPEGs that Iris's own libjpeg decoding does not take (CMYK) go to libvips's loader, and
    /// grey ones come out as three equal channels.
    @Test func cmykAndGreyJPEGsComeOutInRGB() throws {
        try Vips.start()
        // CMYK (0, 255, 255, 0) is a full red; libvips converts it with its own CMYK profile.
        let red = try Self.centre(
            try ColourFixtures.flat([0, 255, 255, 0], kind: .cmyk, suffix: ".jpg"), suffix: ".jpg")
        #expect(red[0] > 180 && red[1] < 90 && red[2] < 90, "\(red)")
        let middle = try Self.centre(try ColourFixtures.flat([128], kind: .grey, suffix: ".jpg"), suffix: ".jpg")
        #expect(middle.allSatisfy { abs($0 - 128) <= 2 }, "\(middle)")
    }

    /// Iris keeps one colour transform per distinct profile, up to 32; photos with more
    /// distinct profiles than that are still converted (with a transform made for the photo).
    @Test func moreDistinctProfilesThanAreKeptAreAllApplied() throws {
        try Vips.start()
        for index in 0..<40 {
            let profile = try ColourFixtures.displayP3(named: "Display P3, camera \(index)")
            let centre = try Self.centre(
                try ColourFixtures.flat(ColourFixtures.p3Colour, profile: profile, suffix: ".png"), suffix: ".png")
            #expect(
                zip(centre, ColourFixtures.p3ColourInSRGB).allSatisfy { abs($0 - $1) <= 3 },
                "profile \(index): \(centre)")
        }
    }
}
