import Foundation
import HTTPTypes
import Hummingbird
import IrisBlobs

/// Answers that send stored bytes: a file whole or in the one range asked for, a redirect to
/// the bytes in S3, and the `If-None-Match` check. For every route that serves a file
/// (originals, thumbnails, exports).
enum FileResponses {
    /// A file on disk, whole or the one byte range asked for, streamed.
    static func serve(
        path: String, size: Int64, headers: HTTPFields, _ request: Request, context: IrisRequestContext
    ) async throws -> Response {
        var headers = headers
        if let rangeHeader = request.headers[.range], let range = try byteRange(rangeHeader, size: size) {
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            headers[.contentLength] = String(range.count)
            let body = try await FileIO().loadFile(
                path: path, range: Int(range.lowerBound)...Int(range.upperBound), context: context)
            return Response(status: .partialContent, headers: headers, body: body)
        }
        headers[.contentLength] = String(size)
        return Response(status: .ok, headers: headers, body: try await FileIO().loadFile(path: path, context: context))
    }

    /// To the bytes in S3 (`storage.s3.public_url`), once the caller's access is checked. The
    /// redirect may be cached while the URL it names stays valid; it names no credentials.
    static func redirect(to direct: DirectURL) -> Response {
        Response(
            status: .temporaryRedirect,
            headers: [
                .location: direct.url.absoluteString,
                .cacheControl: "private, max-age=\(max(0, direct.validSeconds - 60))",
            ])
    }

    static func matches(_ ifNoneMatch: String?, etag: String) -> Bool {
        guard let ifNoneMatch else { return false }
        return ifNoneMatch.split(separator: ",").contains { tag in
            let trimmed = tag.trimmingCharacters(in: .whitespaces)
            return trimmed == "*" || trimmed == "\"\(etag)\"" || trimmed == "W/\"\(etag)\""
        }
    }

    /// One `bytes=` range (RFC 9110 §14.1.2): `a-b`, `a-` or `-n`. Multiple ranges and
    /// other units are ignored (the whole file is sent, as the RFC allows); a range
    /// that starts past the end is a 416.
    static func byteRange(_ header: String, size: Int64) throws -> ClosedRange<Int64>? {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return nil }
        let unsatisfiable = Problem.rangeNotSatisfiable(
            "the range \(spec) is outside the \(size)-byte file", size: size)
        if parts[0].isEmpty {
            guard let suffix = Int64(parts[1]) else { return nil }
            guard suffix > 0, size > 0 else { throw unsatisfiable }
            return max(0, size - suffix)...(size - 1)
        }
        guard let start = Int64(parts[0]) else { return nil }
        guard start < size else { throw unsatisfiable }
        let end = parts[1].isEmpty ? size - 1 : (Int64(parts[1]) ?? -1)
        guard end >= start else { return nil }
        return start...min(end, size - 1)
    }
}
