import Foundation
public import IrisCore
import IrisML
public import IrisStore

/// Review of contributions: the queue of photos waiting for an editor (newest first, or the
/// most suspect labels first), each with up to three suggested labels from what the project
/// already knows (its learner, its active trained head, automatic models), and the editors' decisions. A decision is one transaction; the learner
/// follows it at once (an accepted photo joins the classes its labels name, a rejected one
/// leaves them).
public struct Review: Sendable {
    public let store: IrisStore
    public let learning: LearningService
    public let labels: LabelEditing
    /// The label check, whose kept ranking orders accepted photos in `suspect` order.
    public let check: LabelQuality
    /// WordNet and the ImageNet classes (search loads them): a model's label reaches a project
    /// label above it ("robin, American robin" → "bird").
    let vocabulary: @Sendable () async throws -> SearchVocabulary

    public init(
        store: IrisStore, learning: LearningService, labels: LabelEditing, check: LabelQuality, search: TextSearch
    ) {
        (self.store, self.learning, self.labels, self.check) = (store, learning, labels, check)
        vocabulary = search.vocabulary
    }

    /// The most decisions one request may carry.
    public static let maxDecisions = 500
    /// How many waiting photos `suspect` ranks (the oldest beyond it wait for the next page).
    public static let maxRanked = 5000

    /// A suggested label, how likely it is the photo's (0…1), and what said so.
    public struct Suggestion: Sendable, Equatable, Codable {
        public var label: String
        public var confidence: Double
        public var source: Source
    }

    /// Where a suggestion came from: the project's learner, its active trained head, or an
    /// automatic model's label that names one of the project's labels.
    public enum Source: String, Sendable, Equatable, Codable, CaseIterable {
        case learner, head, model
    }

    /// One photo of the queue.
    public struct Item: Sendable {
        public var member: ProjectImage
        public var linkName: String?
        public var suggestions: [Suggestion]
        /// How likely the contributor's label is right, from the learner (nil: it cannot say).
        public var labelConfidence: Double?
    }

    /// `newest` by upload; `suspect` the least likely labels first; `useful` the photos worth
    /// labelling next (`LabelNext`): those without a human label and those waiting, whatever
    /// `state` says.
    public enum Order: String, Sendable, CaseIterable { case newest, suspect, useful }

    /// The photos in `state`, in `order`, at most `limit`.
    public func queue(in project: Project, state: ReviewState, order: Order, limit: Int) async throws -> [Item] {
        let scan = order == .newest ? limit : Self.maxRanked
        var members: [ProjectImage] = []
        var cursor: Int64?
        repeat {
            let page = try await store.images.list(
                projectID: project.id, filter: ImageFilter(review: order == .useful ? nil : state), after: cursor,
                limit: min(500, scan))
            members += page.items
            cursor = page.nextCursor
        } while cursor != nil && members.count < scan
        members = Array(members.prefix(scan))
        if order == .useful {
            members = try await usefulFirst(members, in: project, limit: limit)
        }
        let suggested = try await suggestions(for: members.map(\.image.sha256), in: project)
        let links = Dictionary(
            uniqueKeysWithValues: try await store.links.list(projectID: project.id).map { ($0.id, $0.name) })
        let linkIDs = try await store.reviews.links(of: members.map(\.image.sha256), in: project.id)
        var items = members.map { member -> Item in
            let sha256 = member.image.sha256
            let given = member.labels.filter { $0.source == Label.humanSource }.map(\.name)
            let learned = suggested.learner[sha256]
            // The learner's probability of the label the contributor gave (the lowest, when several).
            let confidence = learned.flatMap { distribution in
                given.isEmpty ? nil : given.map { distribution[$0] ?? 0 }.min()
            }
            return Item(
                member: member, linkName: linkIDs[sha256].flatMap { links[$0] },
                suggestions: suggested.top[sha256] ?? [], labelConfidence: confidence)
        }
        if order == .suspect, state == .accepted, let report = try? await check.kept(projectID: project.id)?.body {
            // Accepted photos: the label check's ranking (out-of-sample), its issues first.
            let rank = Dictionary(
                report.issues.enumerated().map { ($1.sha256, $0) }, uniquingKeysWith: { a, _ in a })
            items = items.enumerated().sorted { a, b in
                (rank[a.element.member.image.sha256] ?? .max, a.offset)
                    < (rank[b.element.member.image.sha256] ?? .max, b.offset)
            }.map(\.element)
        } else if order == .suspect {
            // Least likely right first; photos the learner cannot judge after them, newest first.
            items = items.enumerated().sorted { a, b in
                switch (a.element.labelConfidence, b.element.labelConfidence) {
                case (let x?, let y?): (x, a.offset) < (y, b.offset)
                case (.some, nil): true
                case (nil, .some): false
                case (nil, nil): a.offset < b.offset
                }
            }.map(\.element)
        }
        return Array(items.prefix(limit))
    }

    /// The photos worth labelling next, most useful first: of `members`, those without a
    /// human label or waiting for review, ordered by `LabelNext` from the learner's answers
    /// (its uncertainty) and the accepted labelled photos (what is covered already); photos
    /// without an embedding after them, newest first.
    func usefulFirst(_ members: [ProjectImage], in project: Project, limit: Int) async throws -> [ProjectImage] {
        func human(_ member: ProjectImage) -> Bool { member.labels.contains { $0.source == Label.humanSource } }
        let candidates = members.filter { $0.review == .pending || ($0.review == .accepted && !human($0)) }
        let labelled = members.filter { $0.review == .accepted && human($0) }
        let model = try await learning.learnerModel(projectID: project.id)
        let vectors = try await store.search.embeddings(
            model: model, sha256s: (candidates + labelled).map(\.image.sha256))
        let embedded = candidates.filter { vectors[$0.image.sha256] != nil }
        let features = embedded.map { LabelCheck.normalised(vectors[$0.image.sha256] ?? []) }
        // The learner's answers when it has classes (its unknown is the most uncertain), else
        // the same rule over the accepted labelled photos, without a threshold.
        let taught = labelled.compactMap { member in
            vectors[member.image.sha256].map { (member, LabelCheck.normalised($0)) }
        }
        var margins: [Double]
        var unknown = embedded.map { _ in false }
        if let record = try await store.learning.learner(projectID: project.id), record.classCount > 0,
            features.allSatisfy({ $0.count == record.dimension })
        {
            let answers = try await learning.classify(projectID: project.id, vectors: features)
            margins = answers.map { $0.lead }
            unknown = answers.map { $0.label == nil }
        } else {
            let names = Array(Set(taught.flatMap { $0.0.labels.filter { $0.source == Label.humanSource }.map(\.name) }))
                .sorted()
            let means = LabelNext.ClassMeans(
                taught.flatMap { member, feature in
                    member.labels.filter { $0.source == Label.humanSource }.compactMap { label in
                        names.firstIndex(of: label.name).map { (feature, $0) }
                    }
                })
            margins = features.map { means.margin($0) }
        }
        let order = LabelNext.order(
            candidates: features, uncertainty: LabelNext.uncertainty(margins: margins, unknown: unknown),
            labelled: taught.map(\.1),
            picks: limit, seed: UInt64(bitPattern: project.id))
        return order.map { embedded[$0] } + candidates.filter { vectors[$0.image.sha256] == nil }
    }

    /// Up to three suggestions per photo (by confidence), and the learner's whole distribution
    /// over its classes, per photo it could judge. A label several sources suggest is listed
    /// once, with the highest confidence and the source that gave it.
    func suggestions(for sha256s: [String], in project: Project) async throws -> (
        top: [String: [Suggestion]], learner: [String: [String: Double]]
    ) {
        guard !sha256s.isEmpty else { return ([:], [:]) }
        var all: [String: [String: Suggestion]] = [:]
        var distributions: [String: [String: Double]] = [:]
        func offer(_ sha256: String, _ suggestion: Suggestion) {
            if let allowed = project.labelSet, !allowed.contains(suggestion.label) { return }
            if let known = all[sha256]?[suggestion.label], known.confidence >= suggestion.confidence { return }
            all[sha256, default: [:]][suggestion.label] = suggestion
        }
        // The learner: its calibrated probability for its nearest class, the rest shared among
        // the others in proportion to their softmax weights.
        if let record = try await store.learning.learner(projectID: project.id), record.classCount > 0 {
            let vectors = try await store.search.embeddings(model: record.model, sha256s: sha256s)
            let judged = sha256s.filter { vectors[$0]?.count == record.dimension }
            if !judged.isEmpty {
                let answers = try await learning.classify(projectID: project.id, vectors: judged.map { vectors[$0]! })
                for (sha256, answer) in zip(judged, answers) {
                    let distribution = Self.distribution(answer)
                    distributions[sha256] = distribution
                    for (label, confidence) in distribution {
                        offer(sha256, Suggestion(label: label, confidence: confidence, source: .learner))
                    }
                }
            }
        }
        // The active trained head: its softmax over its classes, on the stored embedding by the
        // model it was trained over (as `/v2` runs it); photos without one are left to the others.
        // A head that cannot be read leaves its suggestions out rather than failing the queue.
        if let active = try? await learning.activeHead(projectID: project.id) {
            let vectors = try await store.search.embeddings(model: active.record.model, sha256s: sha256s)
            for sha256 in sha256s {
                guard let vector = vectors[sha256], vector.count == active.head.dimension else { continue }
                for (label, confidence) in active.head.ranked(vector).prefix(3) {
                    offer(sha256, Suggestion(label: label, confidence: confidence, source: .head))
                }
            }
        }
        // Automatic models: their top label, when one of its names is a label of the project,
        // or when a label of the project names a WordNet synset above its class.
        let modelLabels = try await store.analyses.topLabelsByModel(sha256s: sha256s)
        if let names = project.labelSet, !names.isEmpty, !modelLabels.isEmpty {
            let byName = Dictionary(names.map { ($0.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
            // WordNet is read only when there are models' labels to map (its first load takes seconds).
            let above = (try? await vocabulary()).map { Self.labelsAbove(names, in: $0) } ?? [:]
            for (sha256, models) in modelLabels {
                // A head's stored labels are the head's answer (above), and another project's
                // head is no automatic model of this one.
                for (model, top) in models where !LearningService.isHeadModel(model) {
                    let named = top.label.split(separator: ",").lazy.compactMap {
                        byName[$0.trimmingCharacters(in: .whitespaces).lowercased()]
                    }.first
                    if let label = named ?? above[top.label] {
                        offer(sha256, Suggestion(label: label, confidence: top.score, source: .model))
                    }
                }
            }
        }
        let top = all.mapValues {
            Array($0.values.sorted { ($0.confidence, $1.label) > ($1.confidence, $0.label) }.prefix(3))
        }
        return (top, distributions)
    }

    /// ImageNet class label line → the project label whose WordNet synset is the nearest above
    /// it (for "bird" and "animal", a robin is a bird).
    static func labelsAbove(_ names: [String], in vocabulary: SearchVocabulary) -> [String: String] {
        var best: [Int: (label: String, depth: Int)] = [:]
        for name in names {
            for synset in vocabulary.wordnet.synsets(named: name) {
                for (index, path) in vocabulary.below[synset] ?? [] where path.count < (best[index]?.depth ?? .max) {
                    best[index] = (name, path.count)
                }
            }
        }
        var result: [String: String] = [:]
        for (index, found) in best where index < vocabulary.labels.count {
            result[vocabulary.labels[index]] = found.label
        }
        return result
    }

    /// An answer as probabilities over the learner's classes: the calibrated confidence for
    /// the nearest, the remainder shared by the others' softmax weights.
    static func distribution(_ answer: IncrementalLearner.Answer) -> [String: Double] {
        guard let first = answer.ranked.first else { return [:] }
        var result = [first.label: answer.confidence]
        let others = answer.ranked.dropFirst()
        let total = others.reduce(0) { $0 + $1.confidence }
        for other in others {
            result[other.label] = total > 0 ? (1 - answer.confidence) * other.confidence / total : 0
        }
        return result
    }

    /// Records the decisions (labels checked against the project's label set first), then the
    /// learner follows them.
    public func decide(_ decisions: [ReviewDecision], in project: Project, by caller: Caller) async throws
        -> ReviewOutcome
    {
        guard (1...Self.maxDecisions).contains(decisions.count) else {
            throw Refusal.invalid(
                "decisions must hold from 1 to \(Self.maxDecisions) decisions, not \(decisions.count)",
                field: "decisions")
        }
        guard Set(decisions.map(\.sha256)).count == decisions.count else {
            throw Refusal.invalid("decisions name a photo twice", field: "decisions")
        }
        var checked = decisions
        for index in checked.indices {
            if let names = checked[index].labels {
                guard checked[index].action == .accept else {
                    throw Refusal.invalid("labels go with accept, not reject", field: "decisions")
                }
                checked[index].labels = try labels.checked(names, field: "labels", in: project)
            }
        }
        let outcome = try await store.reviews.decide(
            checked, in: project.id, recording: AuditLog.template(as: .caller(caller), .reviewDecided),
            relabelling: LabelEditing.event(caller))
        await labels.teach(outcome.sha256s, projectID: project.id)
        return outcome
    }
}
