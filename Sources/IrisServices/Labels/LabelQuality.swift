public import Foundation
public import IrisCore
public import IrisML
public import IrisStore

/// A project's label check: the human labels that are probably wrong (`LabelCheck`, with the
/// label each probably should be and the neighbours that say so), and the dataset's other
/// problems: near-duplicates on both sides of an export's split, label pairs that occur on
/// one photo only, classes with too few photos, and photos far from every class.
///
/// Only accepted photos' human labels count (never a pending or rejected contribution's).
/// The report is kept (`ProjectReport`): a reader gets the kept one and, when photos, labels or
/// decisions changed since, a job recomputes it, so one new label never makes a request wait
/// for the whole project.
public struct LabelQuality: ProjectReport {
    public let store: IrisStore
    public let learning: LearningService
    public let duplicates: Duplicates
    public let queue: JobQueue
    public let decoded = DecodedReports<Report>()

    public init(store: IrisStore, learning: LearningService, duplicates: Duplicates, queue: JobQueue) {
        (self.store, self.learning, self.duplicates, self.queue) = (store, learning, duplicates, queue)
    }

    public static let kind = "label-check"
    /// The most photos one check reads (the newest beyond it are left for a later look).
    public static let maxPhotos = 50_000
    /// Issues kept in the report (the lowest scores), and neighbours shown per issue.
    public static let keptIssues = 500
    public static let neighbours = 5

    public struct Neighbour: Sendable, Codable, Equatable {
        public var sha256: String
        public var labels: [String]
        public var similarity: Double
    }

    public struct Issue: Sendable, Codable, Equatable {
        public var sha256: String
        /// The photo's human labels, and the one judged least likely.
        public var labels: [String]
        public var label: String
        public var suggested: String?
        /// Out-of-sample probabilities (from a model built without the photo) of `label` and
        /// of `suggested`, and `label`'s class threshold (its photos' mean probability).
        public var labelScore: Double
        public var suggestedScore: Double?
        public var threshold: Double
        /// Below its class's threshold while `suggested` is at or above its own.
        public var likely: Bool
        public var neighbours: [Neighbour]
    }

    public struct Leak: Sendable, Codable, Equatable {
        public struct Member: Sendable, Codable, Equatable {
            public var sha256: String
            public var split: String
        }
        public var members: [Member]
    }

    public struct RarePair: Sendable, Codable, Equatable {
        public var sha256: String
        public var labels: [String]
    }

    public struct SmallClass: Sendable, Codable, Equatable {
        public var label: String
        public var photos: Int
        /// More photos that would bring it to where the learning curve levels off
        /// (`ClassSize.enough`).
        public var needed: Int
    }

    /// How many photos a class needs: the learning curve (nearest-class-mean accuracy on
    /// held-out photos per training photos per class, `LearningCurve`) drawn from the project's
    /// own accepted labelled photos, or the photo evaluation set's when the project has fewer
    /// than `LearningCurve.minimumClasses` classes with 24 photos or more.
    public struct ClassSize: Sendable, Codable, Equatable {
        /// `project` or `photo set`.
        public var source: String
        /// Photos per class at which accuracy levels off (within 2 points of the curve's best).
        public var enough: Int
        public var curve: [LearningCurve.Point]
    }

    public struct Outlier: Sendable, Codable, Equatable {
        public var sha256: String
        public var labels: [String]
        /// Cosine distance to the nearest class (without the photo), and the usual such
        /// distance in this project (the median).
        public var distance: Double
        public var usual: Double
    }

    public struct Report: ReportBody, Equatable {
        public var computedAt: Date
        public var model: String
        /// Accepted photos with a human label and an embedding: what the check judged.
        public var labelled: Int
        public var photos: Int
        public var classes: Int
        /// Photos judged below their class's threshold (the issues are the first of them).
        public var belowThreshold: Int
        public var likely: Int
        public var issues: [Issue]
        public var leaks: [Leak]
        public var rarePairs: [RarePair]
        public var smallClasses: [SmallClass]
        /// The curve the small classes' `needed` comes from (nil in reports kept before it).
        public var classSize: ClassSize?
        public var outliers: [Outlier]
        /// Whether every photo of the project was read (false beyond `maxPhotos`).
        public var complete: Bool
    }

    public static func key(_ fingerprint: ReportFingerprint) -> String { fingerprint.labels }

    /// A photo as the check sees it.
    struct Photo {
        var sha256: String
        var labels: [String]
        var accepted: Bool
        var feature: [Float]?
    }

    /// The project's photos (newest first, at most `maxPhotos`) with their human labels and
    /// `model`'s embeddings, L2-normalised.
    func photos(projectID: Int64, model: String, progress: @Sendable (Double, String) -> Void) async throws
        -> (photos: [Photo], complete: Bool)
    {
        var photos: [Photo] = []
        var cursor: Int64?
        repeat {
            let page = try await store.images.list(
                projectID: projectID, filter: ImageFilter(), after: cursor, limit: 500)
            photos += page.items.map { member in
                Photo(
                    sha256: member.image.sha256,
                    labels: member.labels.filter { $0.source == Label.humanSource }.map(\.name).sorted(),
                    accepted: member.review == .accepted, feature: nil)
            }
            cursor = page.nextCursor
            progress(
                0.1 * Double(min(photos.count, Self.maxPhotos)) / Double(Self.maxPhotos), "read \(photos.count) photos")
        } while cursor != nil && photos.count < Self.maxPhotos
        let complete = cursor == nil && photos.count <= Self.maxPhotos
        photos = Array(photos.prefix(Self.maxPhotos))
        for start in stride(from: 0, to: photos.count, by: 500) {
            try Task.checkCancellation()
            let chunk = start..<min(start + 500, photos.count)
            let vectors = try await store.search.embeddings(model: model, sha256s: chunk.map { photos[$0].sha256 })
            for index in chunk {
                photos[index].feature = vectors[photos[index].sha256].map(LabelCheck.normalised)
            }
            progress(0.1 + 0.4 * Double(chunk.upperBound) / Double(max(photos.count, 1)), "read embeddings")
        }
        return (photos, complete)
    }

    public func compute(projectID: Int64, model: String, progress: @escaping @Sendable (Double, String) -> Void)
        async throws -> Report
    {
        let (photos, complete) = try await self.photos(projectID: projectID, model: model, progress: progress)
        let dimension = photos.lazy.compactMap(\.feature).first?.count ?? 0
        let judged = photos.filter { $0.accepted && !$0.labels.isEmpty && $0.feature?.count == dimension }
        let classes = Array(Set(judged.flatMap(\.labels))).sorted()
        let classIndex = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let features = judged.map { $0.feature ?? [] }
        // Progress: reading 0–0.5, scoring 0.5–0.75, neighbours 0.75–0.85, the learning curve
        // 0.85–0.87, duplicates across the split 0.87–1 (82 s in all on 50,000 photos).
        progress(0.5, "checking \(judged.count) labelled photos")
        let result = try LabelCheck.check(
            features: features, labels: judged.map { $0.labels.compactMap { classIndex[$0] } },
            classCount: classes.count, isCancelled: { Task.isCancelled },
            progress: { progress(0.5 + 0.25 * $0, "checking \(judged.count) labelled photos") })
        progress(0.75, "finding neighbours")
        let below = result.ranked.filter { $0.score < 1 }
        var issues: [Issue] = []
        for (position, scored) in below.prefix(Self.keptIssues).enumerated() {
            if position % 25 == 0 {
                try Task.checkCancellation()
                progress(
                    0.75 + 0.1 * Double(position) / Double(min(below.count, Self.keptIssues)),
                    "finding neighbours of \(min(below.count, Self.keptIssues)) issues")
            }
            let neighbours = LabelCheck.neighbours(of: scored.index, among: features, count: Self.neighbours).map {
                Neighbour(
                    sha256: judged[$0.index].sha256, labels: judged[$0.index].labels, similarity: Double($0.similarity))
            }
            issues.append(
                Issue(
                    sha256: judged[scored.index].sha256, labels: judged[scored.index].labels,
                    label: classes[scored.weakestLabel], suggested: scored.suggested.map { classes[$0] },
                    labelScore: scored.selfConfidence,
                    suggestedScore: scored.suggested.map { scored.probabilities[$0] },
                    threshold: result.thresholds[scored.weakestLabel], likely: scored.likely, neighbours: neighbours))
        }
        // Outliers: nearest class much further than usual (median + 3 × the median deviation).
        let distances = result.ranked.map(\.nearestDistance).sorted()
        let median = distances.isEmpty ? 0 : distances[distances.count / 2]
        let deviations = distances.map { abs($0 - median) }.sorted()
        let spread = deviations.isEmpty ? 0 : deviations[deviations.count / 2]
        let outliers = result.ranked.filter {
            distances.count >= 10 && $0.nearestDistance > median + 3 * max(spread, 0.01)
        }
        .sorted { $0.nearestDistance > $1.nearestDistance }.prefix(50).map {
            Outlier(
                sha256: judged[$0.index].sha256, labels: judged[$0.index].labels, distance: $0.nearestDistance,
                usual: median)
        }
        progress(0.85, "drawing the learning curve")
        let classSize = try Self.classSize(judged, features: features, classIndex: classIndex)
        progress(0.87, "looking for duplicates across the split")
        let leaks = try await leaks(projectID: projectID, photos: photos) {
            progress(0.87 + 0.13 * $0, "looking for duplicates across the split")
        }
        return Report(
            computedAt: Date(), model: model, labelled: judged.count, photos: photos.count, classes: classes.count,
            belowThreshold: below.count, likely: below.filter(\.likely).count, issues: issues, leaks: leaks,
            rarePairs: Self.rarePairs(judged),
            smallClasses: Self.smallClasses(judged, classes: classes, enough: classSize.enough), classSize: classSize,
            outliers: Array(outliers), complete: complete)
    }

    /// The learning curve of the photos with one label (`LearningCurve`), or the photo set's
    /// when too few classes are large enough to draw it.
    static func classSize(_ judged: [Photo], features: [[Float]], classIndex: [String: Int]) throws -> ClassSize {
        let single = judged.indices.filter { judged[$0].labels.count == 1 }
        let curve = try LearningCurve.measure(
            features: single.map { features[$0] }, labels: single.map { classIndex[judged[$0].labels[0]] ?? 0 },
            isCancelled: { Task.isCancelled })
        let points = curve ?? LearningCurve.photoSet
        return ClassSize(
            source: curve == nil ? "photo set" : "project", enough: LearningCurve.enough(points) ?? 10, curve: points)
    }

    /// Groups of near-duplicates whose members an export's split puts in different parts.
    func leaks(projectID: Int64, photos: [Photo], progress: (Double) -> Void = { _ in }) async throws -> [Leak] {
        let labelled = photos.filter { $0.accepted && !$0.labels.isEmpty }
        let splits = DatasetExport.splits(labelled.map { ($0.sha256, $0.labels.first ?? "") })
        return try await duplicates.find(in: projectID, progress: progress).groups.compactMap { group in
            let members = group.members.compactMap { member in
                splits[member.sha256].map { Leak.Member(sha256: member.sha256, split: $0) }
            }
            return Set(members.map(\.split)).count > 1 ? Leak(members: members) : nil
        }
    }

    /// Photos with two labels that no other photo has together, when both labels are common
    /// enough (3 photos or more) for that to be telling.
    static func rarePairs(_ photos: [Photo]) -> [RarePair] {
        var pairs: [String: Int] = [:]
        var counts: [String: Int] = [:]
        for photo in photos {
            for label in photo.labels { counts[label, default: 0] += 1 }
            for (a, b) in pairsOf(photo.labels) { pairs["\(a)\u{1F}\(b)", default: 0] += 1 }
        }
        return photos.filter { photo in
            pairsOf(photo.labels).contains { a, b in
                pairs["\(a)\u{1F}\(b)"] == 1 && (counts[a] ?? 0) >= 3 && (counts[b] ?? 0) >= 3
            }
        }.prefix(100).map { RarePair(sha256: $0.sha256, labels: $0.labels) }
    }

    static func pairsOf(_ labels: [String]) -> [(String, String)] {
        var result: [(String, String)] = []
        for (position, a) in labels.enumerated() {
            for b in labels.dropFirst(position + 1) { result.append((a, b)) }
        }
        return result
    }

    static func smallClasses(_ photos: [Photo], classes: [String], enough: Int) -> [SmallClass] {
        var counts: [String: Int] = [:]
        for photo in photos {
            for label in photo.labels { counts[label, default: 0] += 1 }
        }
        return classes.compactMap { label in
            let count = counts[label] ?? 0
            return count < enough ? SmallClass(label: label, photos: count, needed: enough - count) : nil
        }
    }
}
