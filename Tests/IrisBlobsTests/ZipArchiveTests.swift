import Foundation
import IrisTesting
import Testing

@testable import IrisBlobs

/// The strict zip reader on its own: honest archives read back exactly; each lie is a
/// `Failure` naming the entry, reached in bounded time.
@Suite("Zip archives read strictly", .timeLimit(.minutes(1)))
struct ZipArchiveTests {
    func withArchive<T>(_ data: Data, _ body: (ZipArchive) throws -> T) throws -> T {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("iris-zip-\(UUID().uuidString).zip")
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try body(try ZipArchive(url: url, maxEntries: 1_000))
    }

    func contents(_ archive: ZipArchive, _ entry: ZipArchive.Entry) throws -> Data {
        var out = Data()
        try archive.read(entry) { out.append(contentsOf: $0) }
        return out
    }

    func failure(reading data: Data, entry index: Int = -1) throws -> ZipArchive.Failure? {
        try withArchive(data) { archive in
            let entry = index < 0 ? archive.entries.last! : archive.entries[index]
            do {
                _ = try contents(archive, entry)
                return nil
            } catch let failure as ZipArchive.Failure {
                return failure
            }
        }
    }

    @Test("stored and deflated entries read back byte for byte, with folders and kinds")
    func honestArchive() throws {
        let photo = try Fixtures.jpeg(width: 300, height: 200, seed: 1)
        let text = Data(String(repeating: "iris ", count: 5_000).utf8)
        let zip = ZipWriter.archive([
            ZipWriter.Entry("cats/a.jpg", photo, method: 0), ZipWriter.Entry("notes/text.txt", text),
            ZipWriter.Entry("empty/", Data(), method: 0),
        ])
        let (entries, first, second) = try withArchive(zip) { archive throws in
            (archive.entries, try contents(archive, archive.entries[0]), try contents(archive, archive.entries[1]))
        }
        #expect(entries.map(\.path) == ["cats/a.jpg", "notes/text.txt", "empty/"])
        #expect(entries.map(\.kind) == [.file, .file, .directory])
        #expect(first == photo)
        #expect(second == text)
        #expect(entries[1].compressedSize < UInt64(text.count) / 10)
    }

    @Test("a stored block longer than the file ends as damage, not a loop")
    func endlessStoredBlock() throws {
        let started = ContinuousClock.now
        let failure = try failure(reading: HostileZips.storedBlockLongerThanFile())
        #expect(failure == .corruptEntry(path: "cats/endless.jpg", reason: "its deflate stream is cut short"))
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("an entry inflating past its declared size is stopped at that size")
    func inflatesPastDeclared() throws {
        #expect(
            try failure(reading: try HostileZips.inflatesPastDeclaredSize())
                == .inflatesPastDeclaredSize(path: "cats/liar.jpg"))
    }

    @Test("a wrong CRC-32 is a failure naming the entry")
    func wrongChecksum() throws {
        #expect(try failure(reading: try HostileZips.wrongChecksum()) == .checksumMismatch(path: "cats/bad-crc.jpg"))
        // The honest entries before it pass the same check.
        #expect(try failure(reading: try HostileZips.wrongChecksum(), entry: 0) == nil)
    }

    @Test("corrupt deflate data and unknown methods are named")
    func corruptAndUnsupported() throws {
        guard case .corruptEntry(let path, let reason) = try failure(reading: try HostileZips.corruptDeflate()) else {
            Issue.record("a corrupt deflate stream was read")
            return
        }
        #expect(path == "cats/corrupt.jpg")
        #expect(reason.contains("corrupt"))
        let lzma = try failure(reading: try HostileZips.lzmaEntry())
        #expect(lzma == .unsupportedMethod(path: "cats/lzma.jpg", method: 14))
        #expect(lzma?.description.contains("LZMA") == true)
    }

    @Test("a damaged central directory, a file that is not a zip and a truncated zip refuse to open")
    func damagedArchives() throws {
        func opening(_ data: Data) -> ZipArchive.Failure? {
            do {
                _ = try withArchive(data) { $0.entries.count }
                return nil
            } catch {
                return error as? ZipArchive.Failure
            }
        }
        guard case .damaged(let reason) = opening(try HostileZips.damagedDirectory()) else {
            Issue.record("a damaged central directory opened")
            return
        }
        #expect(reason.contains("central directory entry 1"))
        #expect(opening(Data("not a zip at all, just some text".utf8)) == .notAZip)
        let honest = ZipWriter.archive(try HostileZips.honest())
        // The end record survives but the directory it points to is cut away.
        let cut = honest.prefix(honest.count / 2) + honest.suffix(22)
        #expect(opening(Data(cut)) != nil)
    }

    @Test("the declared entry count is checked before entries are parsed")
    func tooManyEntries() throws {
        let zip = ZipWriter.archive((0..<5).map { ZipWriter.Entry("x/\($0).txt", Data("\($0)".utf8)) })
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("iris-zip-\(UUID().uuidString).zip")
        try zip.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: ZipArchive.Failure.tooManyEntries(declared: 5, limit: 4)) {
            try ZipArchive(url: url, maxEntries: 4)
        }
    }

    /// A hostile tester's cheapest attack: flip bytes of an honest zip. Every mutation must open
    /// and read cleanly or fail with a `Failure` — never trap, never hang.
    @Test("3,000 mutated zips each read or fail cleanly, quickly")
    func mutations() throws {
        let honest = [UInt8](
            ZipWriter.archive(
                try HostileZips.honest(count: 3) + [
                    ZipWriter.Entry("notes/a.txt", Data(String(repeating: "iris ", count: 400).utf8))
                ]))
        var state: UInt64 = 42
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let started = ContinuousClock.now
        var opened = 0
        var refused = 0
        for _ in 0..<3_000 {
            var bytes = honest
            for _ in 0..<(1 + next(4)) {
                // Mostly near the headers and the central directory, where the numbers are.
                let at =
                    next(3) == 0
                    ? next(bytes.count) : (next(2) == 0 ? next(200) : bytes.count - 1 - next(min(300, bytes.count)))
                bytes[at] = UInt8(next(256))
            }
            if next(10) == 0 { bytes.removeLast(next(bytes.count / 2)) }
            do {
                try withArchive(Data(bytes)) { archive in
                    opened += 1
                    for entry in archive.entries { try archive.read(entry) { _ in } }
                }
            } catch is ZipArchive.Failure {
                refused += 1
            }
        }
        #expect(opened > 0 && refused > 0)
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test("names that are not UTF-8 are read as code page 437")
    func codePage437() {
        #expect(ZipArchive.codePage437High.count == 128)
        #expect(ZipArchive.name([0x63, 0x61, 0x66, 0x82][...], utf8: false) == "café")
        #expect(ZipArchive.name(Array("köln".utf8)[...], utf8: false) == "köln")
    }
}

@Suite("Writing zips as they go")
struct ZipWriterTests {
    @Test("entries written from data and files read back byte for byte, with their UTF-8 names and CRCs")
    func roundTrip() async throws {
        try await TemporaryFolder.with { folder in
            let source = folder.appendingPathComponent("big.bin")
            let big = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) })
            try big.write(to: source)
            let zip = folder.appendingPathComponent("out.zip")
            let writer = try ZipWriter(creating: zip)
            try writer.add("train/chêne/IMG_0001.jpg", data: Data("small".utf8))
            try writer.add("images/big.bin", file: source)
            try writer.add("empty.txt", data: Data())
            try writer.finish()
            let archive = try ZipArchive(url: zip, maxEntries: 10)
            #expect(archive.entries.map(\.path) == ["train/chêne/IMG_0001.jpg", "images/big.bin", "empty.txt"])
            var read: [Data] = []
            for entry in archive.entries {
                var bytes = Data()
                try archive.read(entry) { bytes.append(contentsOf: $0) }
                read.append(bytes)
            }
            #expect(read == [Data("small".utf8), big, Data()])
        }
    }

    @Test("more than 65,535 entries are written with ZIP64 records and read back")
    func zip64() async throws {
        try await TemporaryFolder.with { folder in
            let zip = folder.appendingPathComponent("many.zip")
            let writer = try ZipWriter(creating: zip)
            for index in 0..<70_000 { try writer.add("f/\(index).txt", data: Data("\(index)".utf8)) }
            try writer.finish()
            let archive = try ZipArchive(url: zip, maxEntries: 100_000)
            #expect(archive.entries.count == 70_000)
            let last = try #require(archive.entries.last)
            var bytes = Data()
            try archive.read(last) { bytes.append(contentsOf: $0) }
            #expect(last.path == "f/69999.txt" && bytes == Data("69999".utf8))
        }
    }
}
