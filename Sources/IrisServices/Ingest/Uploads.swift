public import Foundation
public import IrisCore
public import IrisStore

/// One photo sent to a project by someone: the use case every edge that takes photos calls
/// (the project upload, a contributor link, an analysis request with files). It holds the
/// rules they share: the sender's upload rate, the labels (the project's label set, a link's
/// choices), a link's allowance, the ingest itself and its event.
public struct Uploads: Sendable {
    /// Who sends: a signed-in caller, or anyone holding a contributor link.
    public enum Sender: Sendable {
        case caller(Caller, address: String)
        case link(UploadLink, address: String)

        /// The key the upload rate is counted under: the token, the user, or the address.
        var rateKey: String {
            switch self {
            case .caller(.token(_, let token), _): "token:\(token.id)"
            case .caller(.session(let user, _), _): "user:\(user.id)"
            case .caller(.anonymous, let address), .link(_, let address): "address:\(address)"
            }
        }
    }

    public let library: ImageLibrary
    public let audit: AuditLog
    /// Uploads per sender in the last minute (`upload.rate_limit`).
    public let rate: RateLimiter

    public init(library: ImageLibrary, audit: AuditLog, rate: RateLimiter) {
        self.library = library
        self.audit = audit
        self.rate = rate
    }

    private var store: IrisStore { library.store }

    /// Whether the project reviews this sender's uploads: `links` reviews contributor links;
    /// `contributors` also members whose role is contributor. Editors, owners and
    /// administrators are never reviewed.
    func waitsForReview(_ sender: Sender, in project: Project) async throws -> Bool {
        switch (project.review, sender) {
        case (.off, _): return false
        case (_, .link): return true
        case (.links, .caller): return false
        case (.contributors, .caller(let caller, _)):
            guard let user = caller.user, !caller.isAdministrator else { return false }
            let role = try await store.accounts.role(projectID: project.id, userID: user.id)
            return role.map { $0 < .editor } ?? true
        }
    }

    /// Counts one request against the sender's upload rate; a 429 when they are over it.
    /// Asked before the body is read, so a sender over the limit costs no disk.
    public func admit(_ sender: Sender) async throws {
        try await rate.check([sender.rateKey], what: "uploads")
        await rate.record(sender.rateKey)
    }

    /// Stores `file` in `project` with the labels sent, and records `image.uploaded` (with
    /// `detail` added). The staged file is always consumed. A link's choice of labels and its
    /// allowance are enforced; an allowance taken is given back if the photo is refused.
    public func accept(
        _ file: StagedUpload, into project: Project, labels names: [String], from sender: Sender,
        detail extra: [String: String] = [:]
    ) async throws -> IngestOutcome {
        let outcome: IngestOutcome
        var reserved: UploadLink?
        do {
            guard file.byteCount > 0 else { throw Refusal.invalid("the file is empty", field: "file") }
            if case .link(let link, _) = sender, let choices = link.labelChoices,
                let outside = names.first(where: {
                    !choices.contains($0.trimmingCharacters(in: .whitespacesAndNewlines))
                })
            {
                throw Refusal.invalid(
                    "label \"\(outside)\" is not one this link offers: \(choices.joined(separator: ", "))",
                    field: "label")
            }
            let labels = try ImageLibrary.humanLabels(names, for: project)
            // Demo mode keeps nothing, so it takes nothing from the link's allowance either.
            if case .link(let link, _) = sender, library.keep {
                // Taken before the ingest, so concurrent uploads never exceed the link's cap.
                guard try await store.links.reserveUpload(id: link.id) != nil else {
                    throw Refusal.forbidden(
                        link.refusal() ?? "this upload link has taken its uploads", reason: "link-refused",
                        field: "code")
                }
                reserved = link
            }
            var linkID: Int64?
            if case .link(let link, _) = sender { linkID = link.id }
            let actor: AuditLog.Actor =
                switch sender {
                case .caller(let caller, _): .caller(caller)
                case .link(let link, _): .link(link)
                }
            // The event commits with the photo: a crash cannot keep one without the other.
            let audit = self.audit
            outcome = try await library.ingest(
                file, into: project, labels: labels, linkID: linkID,
                review: try await waitsForReview(sender, in: project) ? .pending : .accepted,
                events: { outcome in
                    // "Duplicate" speaks of this project only: whether other projects hold the same
                    // bytes is not the sender's to know (a link holder could otherwise probe the server).
                    var detail = [
                        "duplicate": String(outcome.alreadyInProject),
                        "labels": outcome.member.labels.map(\.name).joined(separator: ","),
                    ]
                    detail.merge(extra) { _, new in new }
                    return audit.event(
                        as: actor, .imageUploaded, project: project.id, subject: outcome.member.image.sha256,
                        detail: detail
                    ).map { [$0] } ?? []
                })
        } catch {
            try? FileManager.default.removeItem(at: file.url)
            if let reserved { try? await store.links.releaseUpload(id: reserved.id) }
            throw error
        }
        return outcome
    }
}
