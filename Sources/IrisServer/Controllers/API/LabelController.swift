import Foundation
import HTTPTypes
import Hummingbird
import IrisCore
import IrisServices
import IrisStore

/// Correcting labels: `PUT …/images/{sha256}/labels` replaces one photo's human labels (with
/// `If-Match`), `POST …/labels` changes many, `POST …/labels/undo` reverses a change, and
/// `GET …/images/{sha256}/labels` shows a photo's labels, version and history.
struct LabelController {
    let store: IrisStore
    let labels: LabelEditing

    func addRoutes(to api: Routes<RouterGroup<IrisRequestContext>>) {
        api.get("projects/{id}/images/{sha256}/labels", .project(.viewer), use: show)
        api.put("projects/{id}/images/{sha256}/labels", .project(.editor), use: set)
        api.post("projects/{id}/labels", .project(.editor), use: change)
        api.post("projects/{id}/labels/undo", .project(.editor), use: undo)
        api.post("projects/{id}/labels/rename", .project(.owner), use: rename)
    }

    struct LabelsBody: ResponseEncodable {
        struct Step: Encodable, Sendable {
            /// The change; absent for the upload that gave the photo its first labels.
            var operation: Int64?
            var actor: String
            var actorKind: String
            var at: Date
            var added: [String]
            var removed: [String]
            var undoes: Int64?
        }
        var sha256: String
        var projectId: Int64
        var labels: [APIModel.LabelBody]
        var version: Int64
        /// The change this answer made (nil when the labels were already so).
        var operation: Int64?
        var history: [Step]?
    }

    struct ChangeBody: ResponseEncodable {
        var changed: Int
        var operation: Int64?
    }

    /// A photo's human labels, their version (the `ETag`), and every change to them.
    @Sendable func show(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let projectID = try Parameters.projectID(context)
        let sha256 = try Parameters.sha256(context)
        let member = try await store.labels.labels(of: sha256, in: projectID)
        var history: [LabelsBody.Step] = []
        // The upload first: who gave the photo its labels ("robin — by link garden").
        if let upload = try await store.events.first(
            EventAction.imageUploaded.rawValue, projectID: projectID, subject: sha256)
        {
            let given = (upload.detail["labels"] ?? "").split(separator: ",").map(String.init)
            history.append(
                LabelsBody.Step(
                    operation: nil, actor: upload.actorName, actorKind: upload.actorKind, at: upload.createdAt,
                    added: given, removed: [], undoes: nil))
        }
        history += try await store.labels.history(of: sha256, in: projectID).map {
            LabelsBody.Step(
                operation: $0.operation, actor: $0.actorName, actorKind: $0.actorKind, at: $0.at, added: $0.added,
                removed: $0.removed, undoes: $0.undoes)
        }
        return try answer(member, projectID: projectID, operation: nil, history: history, request, context)
    }

    struct SetRequest: Decodable {
        var labels: [String]
    }

    @Sendable func set(_ request: Request, context: IrisRequestContext) async throws -> Response {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let sha256 = try Parameters.sha256(context)
        let ifVersion = try Self.version(request.headers[.ifMatch])
        let body = try await request.decode(as: SetRequest.self, context: context)
        let (member, outcome) = try await labels.set(
            body.labels, on: sha256, in: project, ifVersion: ifVersion, by: context.caller)
        return try answer(member, projectID: project.id, operation: outcome.operation, history: nil, request, context)
    }

    private func answer(
        _ member: LabelledMember, projectID: Int64, operation: Int64?, history: [LabelsBody.Step]?,
        _ request: Request, _ context: IrisRequestContext
    ) throws -> Response {
        let body = LabelsBody(
            sha256: member.sha256, projectId: projectID, labels: member.labels.map(APIModel.LabelBody.init),
            version: member.version, operation: operation, history: history)
        var response = try body.response(from: request, context: context)
        response.headers[.eTag] = "\"\(member.version)\""
        return response
    }

    /// `If-Match: "3"` (or `3`, or `W/"3"`) → 3; absent → nil; anything else is a 400.
    static func version(_ header: String?) throws -> Int64? {
        guard let header else { return nil }
        var text = header.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("W/") { text.removeFirst(2) }
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = String(text.dropFirst().dropLast()) }
        guard text.count <= 18, let version = Int64(text), version >= 0 else {
            throw Problem.badRequest(
                "If-Match must be the labels' version as GET or PUT gave it (e.g. \"3\"), not \(header.prefix(40))",
                field: "If-Match")
        }
        return version
    }

    struct ChangeRequest: Decodable {
        var images: [String]?
        var filter: Filter?
        var add: [String]?
        var remove: [String]?

        /// A bulk change's filter. An unknown key is refused: ignoring it would widen the
        /// change to photos the caller did not mean.
        struct Filter: Decodable {
            var label: String?
            var modelLabel: String?
            var link: Int64?
            var from: Date?
            var to: Date?

            enum CodingKeys: String, CodingKey, CaseIterable { case label, modelLabel, link, from, to }

            struct AnyKey: CodingKey {
                var stringValue: String
                var intValue: Int? { nil }
                init?(stringValue: String) { self.stringValue = stringValue }
                init?(intValue: Int) { nil }
            }

            init(from decoder: any Decoder) throws {
                let known = Set(CodingKeys.allCases.map(\.rawValue))
                for key in try decoder.container(keyedBy: AnyKey.self).allKeys where !known.contains(key.stringValue) {
                    throw Refusal.invalid(
                        "filter.\(key.stringValue.prefix(40)) is not a filter labels can be changed by; use label, model_label, link, from or to",
                        field: "filter")
                }
                let container = try decoder.container(keyedBy: CodingKeys.self)
                label = try container.decodeIfPresentNotNull(String.self, forKey: .label)
                modelLabel = try container.decodeIfPresentNotNull(String.self, forKey: .modelLabel)
                link = try container.decodeIfPresentNotNull(Int64.self, forKey: .link)
                from = try container.decodeIfPresentNotNull(Date.self, forKey: .from)
                to = try container.decodeIfPresentNotNull(Date.self, forKey: .to)
            }
        }
    }

    @Sendable func change(_ request: Request, context: IrisRequestContext) async throws -> ChangeBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let body = try await request.decode(as: ChangeRequest.self, context: context)
        let selection: LabelSelection
        switch (body.images, body.filter) {
        case (let images?, nil):
            for sha256 in images { try Parameters.checkSHA256(sha256, field: "images") }
            selection = .images(images)
        case (nil, let filter?):
            selection = .filter(
                LabelFilter(
                    label: filter.label, modelLabel: filter.modelLabel, linkID: filter.link, from: filter.from,
                    to: filter.to))
        default:
            throw Problem.badRequest("name the photos by images or by filter, one of the two", field: "images")
        }
        let outcome = try await labels.change(
            selection, in: project, add: body.add ?? [], remove: body.remove ?? [], by: context.caller)
        return ChangeBody(changed: outcome.changed, operation: outcome.operation)
    }

    struct UndoRequest: Decodable {
        var operation: Int64
    }

    @Sendable func undo(_ request: Request, context: IrisRequestContext) async throws -> ChangeBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let body = try await request.decode(as: UndoRequest.self, context: context)
        let outcome = try await labels.undo(body.operation, in: project, by: context.caller)
        return ChangeBody(changed: outcome.changed, operation: outcome.operation)
    }

    struct RenameRequest: Decodable {
        var from: String
        var to: String
    }

    struct RenameBody: ResponseEncodable {
        var changed: Int
        var operation: Int64?
        var labelSet: [String]?
    }

    /// Renames a label of the project (owners): its photos are relabelled in one undoable change.
    @Sendable func rename(_ request: Request, context: IrisRequestContext) async throws -> RenameBody {
        let project = try await store.projects.require(id: Parameters.projectID(context))
        let body = try await request.decode(as: RenameRequest.self, context: context)
        let (renamed, outcome) = try await labels.rename(body.from, to: body.to, in: project, by: context.caller)
        return RenameBody(changed: outcome.changed, operation: outcome.operation, labelSet: renamed.labelSet)
    }
}
