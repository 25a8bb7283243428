import Crypto
public import Foundation
import IrisCore

/// A file in scratch space being written chunk by chunk while its SHA-256 is computed,
/// so an upload is hashed in the same pass that saves it. Stops with a 413-style
/// `StagedFile.TooLarge` error as soon as the limit is passed.
public final class StagedFile {
    public struct TooLarge: Error, Sendable {
        public let limit: Int64

        public init(limit: Int64) { self.limit = limit }
    }

    public let url: URL
    public let limit: Int64
    public private(set) var byteCount: Int64 = 0
    private var hasher = SHA256()
    private let handle: FileHandle
    private var closed = false

    public init(in scratch: ScratchSpace, limit: Int64, suffix: String = ".part") throws {
        self.url = scratch.newFileURL(suffix: suffix)
        self.limit = limit
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
        self.handle = try FileHandle(forWritingTo: url)
    }

    deinit {
        if !closed { try? handle.close() }
    }

    public func write<Bytes: Collection>(_ bytes: Bytes) throws where Bytes.Element == UInt8 {
        byteCount += Int64(bytes.count)
        guard byteCount <= limit else { throw TooLarge(limit: limit) }
        let data = Data(bytes)
        hasher.update(data: data)
        try handle.write(contentsOf: data)
    }

    /// Closes the file and returns the lowercase hex SHA-256 of everything written.
    public func finish() throws -> String {
        try handle.close()
        closed = true
        return hasher.finalize().lowercaseHex
    }

    /// Closes and deletes the file: the outcome of any failed upload.
    public func discard() {
        if !closed {
            try? handle.close()
            closed = true
        }
        try? FileManager.default.removeItem(at: url)
    }
}
