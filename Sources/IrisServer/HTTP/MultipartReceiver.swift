import Foundation
import HTTPTypes
import Hummingbird
import IrisBlobs
import IrisCore
import IrisServices
import NIOCore

/// A multipart/form-data upload received into scratch space: the file part streamed to
/// disk while hashed, small text parts kept in memory.
struct ReceivedMultipart {
    /// The file parts, in the order they came.
    var files: [StagedUpload] = []
    var fields: [String: [String]] = [:]

    var file: StagedUpload? { files.first }

    /// Deletes every staged file (after a refusal).
    func discard() {
        for file in files { try? FileManager.default.removeItem(at: file.url) }
    }
}

/// Streams a multipart/form-data body: the part named `filePart` goes to a `StagedFile`
/// chunk by chunk (never whole in memory); every other part must be small text.
///
/// `MultipartStreamParser` turns each chunk into events; the file writes happen here.
struct MultipartReceiver {
    static let maxFieldBytes = 64 * 1024
    static let maxParts = 1_000

    let scratch: ScratchSpace
    let limit: Int64
    let filePart: String
    /// How many parts named `filePart` a request may carry.
    var maxFiles = 1

    /// The boundary from a `multipart/form-data; boundary=…` header, or a 415.
    static func boundary(_ request: Request) throws -> String {
        guard let contentType = request.headers[.contentType] else {
            throw Problem.unsupportedMediaType("send the body as multipart/form-data", field: "Content-Type")
        }
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else {
            throw Problem.unsupportedMediaType(
                "send the body as multipart/form-data, not \(contentType)", field: "Content-Type")
        }
        for parameter in parts.dropFirst() where parameter.lowercased().hasPrefix("boundary=") {
            let value = parameter.dropFirst("boundary=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            if !value.isEmpty && value.count <= 70 { return value }
        }
        throw Problem.badRequest("the multipart/form-data Content-Type has no valid boundary", field: "Content-Type")
    }

    /// Refuses an announced body over the limit before reading a byte of it.
    static func checkDeclaredLength(_ request: Request, limit: Int64) throws {
        if let length = request.headers[.contentLength].flatMap(Int64.init), length > limit {
            throw Problem.contentTooLarge("the body is \(length) bytes; the limit is \(limit)")
        }
    }

    /// A multipart handler's whole prologue: an announced body over `limit` is refused before
    /// a byte of it is read (413), then the boundary is read from the Content-Type (415 or 400),
    /// then the body is streamed in.
    static func receive(
        _ request: Request, into scratch: ScratchSpace, limit: Int64, filePart: String = "file", maxFiles: Int = 1
    ) async throws -> ReceivedMultipart {
        try checkDeclaredLength(request, limit: limit)
        let boundary = try boundary(request)
        var receiver = MultipartReceiver(scratch: scratch, limit: limit, filePart: filePart)
        receiver.maxFiles = maxFiles
        return try await receiver.receive(request.body, boundary: boundary)
    }

    private struct Part {
        var name: String?
        var fileName: String?
        var staged: StagedFile?
        var text: [UInt8] = []
    }

    func receive(_ body: RequestBody, boundary: String) async throws -> ReceivedMultipart {
        var parser = MultipartStreamParser(boundary: boundary)
        var result = ReceivedMultipart()
        var current: Part?
        var partCount = 0
        var received: Int64 = 0
        var sawAnything = false
        do {
            for try await chunk in body {
                received += Int64(chunk.readableBytes)
                guard received <= limit else {
                    throw Problem.contentTooLarge("the body is over the \(limit)-byte limit")
                }
                sawAnything = true
                for event in try parser.feed(chunk.readableBytesView) {
                    switch event {
                    case .part(let headers):
                        partCount += 1
                        guard partCount <= Self.maxParts else {
                            throw Problem.badRequest("a request may have at most \(Self.maxParts) parts")
                        }
                        var part = Part()
                        if let disposition = headers["content-disposition"] {
                            part.name = Self.parameter("name", in: disposition)
                            part.fileName = Self.parameter("filename", in: disposition)
                        }
                        current = part
                    case .body(let bytes):
                        if current == nil { current = Part() }
                        try write(bytes, into: &current!)
                    case .partEnd:
                        if var part = current { try finish(&part, into: &result) }
                        current = nil
                    }
                }
            }
        } catch {
            current?.staged?.discard()
            result.discard()
            if error is StagedFile.TooLarge {
                throw Problem.contentTooLarge("the file is over the \(limit)-byte limit", field: filePart)
            }
            throw error
        }
        if current != nil || (sawAnything && !parser.isComplete) {
            current?.staged?.discard()
            result.discard()
            throw Problem.badRequest("the multipart body ended before its closing boundary", field: "body")
        }
        if !sawAnything {
            throw Problem.badRequest(
                "the body is empty; send multipart/form-data with a part named \"\(filePart)\"", field: filePart)
        }
        return result
    }

    private func write(_ bytes: [UInt8], into part: inout Part) throws {
        if part.name == filePart {
            if part.staged == nil { part.staged = try StagedFile(in: scratch, limit: limit) }
            try part.staged!.write(bytes)
        } else {
            part.text.append(contentsOf: bytes)
            guard part.text.count <= Self.maxFieldBytes else {
                throw Problem.contentTooLarge(
                    "part \"\(part.name ?? "")\" is over \(Self.maxFieldBytes) bytes", field: part.name)
            }
        }
    }

    private func finish(_ part: inout Part, into result: inout ReceivedMultipart) throws {
        guard let name = part.name else { return }
        if name == filePart {
            guard result.files.count < maxFiles else {
                part.staged?.discard()
                throw Problem.badRequest(
                    maxFiles == 1
                        ? "send one part named \"\(filePart)\" per request"
                        : "send at most \(maxFiles) parts named \"\(filePart)\" per request",
                    field: filePart)
            }
            if part.staged == nil { part.staged = try StagedFile(in: scratch, limit: limit) }
            let staged = part.staged!
            let sha256 = try staged.finish()
            result.files.append(
                StagedUpload(
                    url: staged.url, sha256: sha256, byteCount: staged.byteCount,
                    originalName: part.fileName.map(Self.baseName)))
        } else {
            // PostgreSQL cannot store text with NUL in it (see TextInputMiddleware).
            guard !part.text.contains(0) else {
                throw TextInputMiddleware.refusal("the form field \(name)", field: name)
            }
            result.fields[name, default: []].append(String(decoding: part.text, as: UTF8.self))
        }
    }

    /// `name="value"` from a Content-Disposition header.
    static func parameter(_ key: String, in header: String) -> String? {
        for piece in header.split(separator: ";") {
            let pair = piece.trimmingCharacters(in: .whitespaces)
            guard pair.lowercased().hasPrefix(key + "=") else { continue }
            var value = String(pair.dropFirst(key.count + 1))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            return value
        }
        return nil
    }

    /// The last path component of a client-supplied file name, clipped to 255 characters.
    static func baseName(_ name: String) -> String {
        let last = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? name
        return String(last.prefix(255))
    }
}
