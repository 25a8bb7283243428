import Foundation
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// Parsing of path and query parameters into 400s that name the parameter.
enum Parameters {
    /// `review=accepted|pending|rejected`, or nil when absent.
    static func review(_ request: Request) throws -> ReviewState? {
        try choice(request, "review", of: ReviewState.self)
    }

    /// A query parameter that names one of `T`'s cases, or nil when absent (present but
    /// empty is refused, as any other value outside the list).
    static func choice<T: RawRepresentable & CaseIterable>(_ request: Request, _ name: String, of _: T.Type) throws
        -> T?
    where T.RawValue == String {
        guard let raw = request.uri.queryParameters.get(name) else { return nil }
        guard let value = T(rawValue: String(raw)) else {
            throw Problem.badRequest(
                "\(name) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(raw.prefix(40))\"",
                field: name)
        }
        return value
    }

    /// `link=<id>`: a contributor link's id, or nil when absent or empty (a form's "any").
    static func link(_ request: Request) throws -> Int64? {
        guard let raw = nonEmpty(request, "link") else { return nil }
        guard raw.count <= 19, let id = Int64(raw), id > 0 else {
            throw Problem.badRequest("link must be a contributor link's id, not \"\(raw.prefix(40))\"", field: "link")
        }
        return id
    }

    static func projectID(_ context: some RequestContext) throws -> Int64 {
        let raw = context.parameters.get("id") ?? ""
        guard let id = Int64(raw), id > 0 else {
            throw Problem.badRequest("project id must be a positive integer, not \"\(raw)\"", field: "id")
        }
        return id
    }

    static func sha256(_ context: some RequestContext) throws -> String {
        let raw = context.parameters.get("sha256") ?? ""
        try checkSHA256(raw, field: "sha256")
        return raw
    }

    static func checkSHA256(_ raw: String, field: String) throws {
        try ImageRecord.checkSHA256(raw, field: field)
    }

    /// A positive integer id from the route parameter `name`.
    static func id(_ context: some RequestContext, _ name: String, noun: String) throws -> Int64 {
        let raw = context.parameters.get(name) ?? ""
        guard let id = Int64(raw), id > 0 else {
            throw Problem.badRequest("\(noun) id must be a positive integer, not \"\(raw.prefix(40))\"", field: name)
        }
        return id
    }

    static func limit(_ request: Request, default value: Int = 50, max: Int = 500) throws -> Int {
        guard let raw = request.uri.queryParameters.get("limit") else { return value }
        guard let limit = Int(raw), (1...max).contains(limit) else {
            throw Problem.badRequest(
                "limit must be a whole number from 1 to \(max), not \"\(raw.prefix(40))\"", field: "limit")
        }
        return limit
    }

    /// An optional `expires_in_days` (1–3650) as the date it names.
    static func expiry(days: Int?) throws -> Date? {
        guard let days else { return nil }
        guard (1...3650).contains(days) else {
            throw Problem.badRequest("expires_in_days must be from 1 to 3650", field: "expires_in_days")
        }
        return Date().addingTimeInterval(Double(days) * 86_400)
    }

    /// A cursor is a row position as decimal digits. Clients should treat it as opaque;
    /// it is plain so that every well-formed cursor is a valid one (any digits page from there).
    static func cursor(_ request: Request) throws -> Int64? {
        guard let raw = request.uri.queryParameters.get("cursor") else { return nil }
        guard !raw.isEmpty, raw.count <= 18, raw.allSatisfy(\.isASCII), let position = Int64(raw), position >= 0 else {
            throw Problem.badRequest(
                "cursor must be the next_cursor of an earlier page, not \"\(raw.prefix(40))\"", field: "cursor")
        }
        return position
    }

    /// A query parameter, or nil when absent or empty.
    static func nonEmpty(_ request: Request, _ name: String) -> String? {
        guard let value = request.uri.queryParameters.get(name), !value.isEmpty else { return nil }
        return String(value)
    }

    static func encodeCursor(_ position: Int64?) -> String? {
        position.map(String.init)
    }
}
