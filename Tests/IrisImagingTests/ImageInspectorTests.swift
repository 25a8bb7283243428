import Foundation
import IrisCore
import IrisImaging
import IrisTesting
import Testing

@Suite("Reading and thumbnailing images with libvips")
struct ImageInspectorTests {
    func write(_ data: Data, in folder: URL, name: String = "input") throws -> String {
        let url = folder.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }

    @Test("the header gives format and size for every accepted format", arguments: ImageFormat.allCases)
    func probesEveryFormat(format: ImageFormat) async throws {
        try await TemporaryFolder.with { folder in
            // setup
            let path = try write(try Fixtures.image(format, width: 320, height: 200), in: folder)
            // act
            let probe = try ImageInspector().probe(path: path)
            // check
            #expect(probe.format == format)
            #expect(probe.width == 320)
            #expect(probe.height == 200)
        }
    }

    @Test("EXIF orientation swaps the displayed size and rotates thumbnails; capture time is read")
    func orientation() async throws {
        try await TemporaryFolder.with { folder in
            // setup: stored 400×200, orientation 6 (rotate 90° clockwise to display)
            let path = try write(try Fixtures.exifJPEG(width: 400, height: 200, orientation: 6), in: folder)
            let inspector = try ImageInspector()
            // act
            let probe = try inspector.probe(path: path)
            let thumbnails = try inspector.thumbnails(path: path, sizes: [256])
            // check
            #expect(probe.orientation == 6)
            #expect(probe.width == 200 && probe.height == 400)
            let expected = DateComponents(
                calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"),
                year: 2021, month: 6, day: 1, hour: 10, minute: 20, second: 30
            ).date
            #expect(probe.capturedAt == expected)
            let size = try SyntheticImage.dimensions(of: try #require(thumbnails[256]))
            #expect(size.width == 128 && size.height == 256)
        }
    }

    @Test("thumbnails carry no metadata: the GPS position in the original does not leak")
    func stripsMetadata() async throws {
        try await TemporaryFolder.with { folder in
            // setup
            let original = try Fixtures.exifJPEG()
            #expect(try SyntheticImage.metadataFields(of: original).contains { $0.hasPrefix("exif-ifd3-GPS") })
            let path = try write(original, in: folder)
            // act
            let thumbnails = try ImageInspector().thumbnails(path: path, sizes: [1024, 256])
            // check
            for (_, data) in thumbnails {
                let fields = try SyntheticImage.metadataFields(of: data)
                #expect(!fields.contains { $0.hasPrefix("exif") || $0 == "xmp-data" || $0 == "iptc-data" })
                #expect(data.range(of: Data("Exif".utf8)) == nil)
            }
        }
    }

    @Test("thumbnails fit the longest side and never enlarge")
    func thumbnailSizes() async throws {
        try await TemporaryFolder.with { folder in
            let big = try write(try Fixtures.jpeg(width: 2400, height: 1600), in: folder, name: "big")
            let small = try write(try Fixtures.jpeg(width: 100, height: 50), in: folder, name: "small")
            let inspector = try ImageInspector()
            let bigThumbnails = try inspector.thumbnails(path: big, sizes: [1024, 256])
            let one = try SyntheticImage.dimensions(of: try #require(bigThumbnails[1024]))
            let two = try SyntheticImage.dimensions(of: try #require(bigThumbnails[256]))
            #expect(one.width == 1024 && one.height == 683)
            #expect(two.width == 256 && two.height == 171)
            let tiny = try SyntheticImage.dimensions(
                of: try #require(try inspector.thumbnails(path: small, sizes: [256])[256]))
            #expect(tiny.width == 100 && tiny.height == 50)
        }
    }

    /// Thumbnails carry no profile and browsers show such JPEGs as sRGB, so a wide-gamut photo's
    /// colours must be converted; an sRGB-tagged photo's stay as they are.
    @Test(
        "thumbnails of Display P3 photos are converted to sRGB, with or without transparency; sRGB ones are left alone",
        arguments: [(".jpg", false), (".png", false), (".png", true)])
    func thumbnailColours(suffix: String, alpha: Bool) async throws {
        try await TemporaryFolder.with { folder in
            func thumbnailCentre(_ data: Data) throws -> [Int] {
                let thumbnail = try #require(
                    try ImageInspector().thumbnails(path: try write(data, in: folder), sizes: [256])[256])
                let pixels = try ModelPixels.load(
                    path: try write(thumbnail, in: folder, name: "thumbnail.jpg"), width: 64, height: 64, fit: .stretch)
                return (0..<3).map { Int(pixels.rgb[(32 * 64 + 32) * 3 + $0]) }
            }
            let colour = ColourFixtures.p3Colour + (alpha ? [255] : [])
            let p3 = try thumbnailCentre(
                try ColourFixtures.flat(colour, profile: try ColourFixtures.displayP3(), suffix: suffix))
            #expect(
                zip(p3, ColourFixtures.p3ColourInSRGB).allSatisfy { abs($0 - $1) <= 3 },
                "\(p3), expected \(ColourFixtures.p3ColourInSRGB)")
            let srgb = try thumbnailCentre(
                try ColourFixtures.flat(colour, profile: try ColourFixtures.sRGB(), suffix: suffix))
            #expect(zip(srgb, ColourFixtures.p3Colour).allSatisfy { abs($0 - Int($1)) <= 2 }, "\(srgb)")
        }
    }

    @Test("a pixel bomb is refused from its header, before decoding")
    func pixelBomb() async throws {
        try await TemporaryFolder.with { folder in
            let path = try write(try Fixtures.pixelBomb(), in: folder)
            let start = ContinuousClock.now
            #expect(throws: Refusal.self) { try ImageInspector().probe(path: path) }
            // Decoding 400 megapixels would take seconds and gigabytes; the header takes milliseconds.
            #expect(ContinuousClock.now - start < .seconds(1))
        }
    }

    @Test("a truncated JPEG is refused as corrupt rather than padded with grey")
    func truncated() async throws {
        try await TemporaryFolder.with { folder in
            let path = try write(try Fixtures.truncatedJPEG(), in: folder)
            let inspector = try ImageInspector()
            _ = try inspector.probe(path: path)  // the header is intact
            #expect(throws: Refusal.self) { try inspector.thumbnails(path: path, sizes: [1024, 256]) }
        }
    }

    @Test("a JPEG with corrupt entropy data is refused, with libjpeg's words for this file")
    func corruptEntropyData() async throws {
        try await TemporaryFolder.with { folder in
            let path = try write(try Fixtures.corruptEntropyJPEG(), in: folder)
            let inspector = try ImageInspector()
            _ = try inspector.probe(path: path)
            let problem = try #require(throws: Refusal.self) {
                try inspector.thumbnails(path: path, sizes: [1024, 256])
            }
            #expect(problem.kind == .unprocessable)
            #expect(problem.detail.contains("Corrupt JPEG data"), "\(problem.detail)")
        }
    }

    /// libvips's threaded decode let this file through at random (7 of 20 runs); the strict
    /// libjpeg decode must refuse it every time.
    @Test("a JPEG missing only its EOI marker is refused every time, 50 times out of 50")
    func missingEOI() async throws {
        try await TemporaryFolder.with { folder in
            let path = try write(try Fixtures.jpegWithoutEOI(), in: folder)
            let inspector = try ImageInspector()
            var refusals: [String] = []
            for _ in 0..<50 {
                do {
                    _ = try inspector.thumbnails(path: path, sizes: [1024, 256])
                } catch let problem as Refusal {
                    refusals.append(problem.detail)
                }
            }
            #expect(refusals.count == 50)
            #expect(Set(refusals) == ["the JPEG data is corrupt or truncated (Premature end of JPEG file)"])
        }
    }

    @Test("a refusal names this file's problem: never another file's libvips message, never a server path")
    func refusalsAreTheirOwn() async throws {
        try await TemporaryFolder.with { folder in
            let inspector = try ImageInspector()
            // The JPEG's damage is reported first, as a hostile tester did before sending the PNG.
            let jpeg = try write(try Fixtures.corruptEntropyJPEG(), in: folder, name: "a.jpg")
            #expect(throws: Refusal.self) { try inspector.thumbnails(path: jpeg, sizes: [256]) }
            var details: [String] = []
            for (data, name) in [
                (try Fixtures.pngWithBadHeaderCRC(), "b.png"), (try Fixtures.damagedTIFF(), "c.tif"),
                (Fixtures.damagedHEIC, "d.heic"),
            ] {
                let path = try write(data, in: folder, name: name)
                do {
                    _ = try inspector.probe(path: path)
                    _ = try inspector.thumbnails(path: path, sizes: [256])
                    Issue.record("\(name) was accepted")
                } catch let problem as Refusal {
                    #expect(problem.kind == .unprocessable, "\(name): \(problem.detail)")
                    details.append(problem.detail)
                }
            }
            for detail in details {
                #expect(!detail.contains("JPEG") && !detail.contains("Huffman"), "\(detail)")
                #expect(!detail.contains(folder.path) && !detail.contains("/"), "\(detail)")
            }
        }
    }

    @Test("an SVG is not accepted even though libvips could render one")
    func svgRefused() async throws {
        try await TemporaryFolder.with { folder in
            let path = try write(Fixtures.svg, in: folder)
            #expect(throws: Refusal.self) { try ImageInspector().probe(path: path) }
        }
    }
}

@Suite("libvips loaders are locked down")
struct LoaderBlockTests {
    @Test("formats outside the six (here a libvips .v file and a PPM) cannot be loaded even by libvips")
    func otherLoadersBlocked() async throws {
        try await TemporaryFolder.with { folder in
            // setup: a PPM is a format libvips reads natively; Iris must not.
            let ppm = Data("P3\n1 1\n255\n255 0 0\n".utf8)
            let url = folder.appendingPathComponent("image.ppm")
            try ppm.write(to: url)
            // act / check
            _ = try ImageInspector()
            #expect(throws: (any Error).self) { try SyntheticImage.dimensions(of: ppm) }
        }
    }
}
