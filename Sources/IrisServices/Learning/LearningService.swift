public import Foundation
public import IrisBlobs
public import IrisCore
import IrisImaging
public import IrisML
public import IrisStore
import NIOConcurrencyHelpers

/// A project's learning: the incremental learner (classes from zips or labels, examples
/// added one at a time, classify with `unknown`), trained heads and their use. The HTTP
/// controller, the jobs and the CLI all go through here.
public struct LearningService: Sendable {
    public init(
        store: IrisStore, blobs: any BlobStore, models: ModelRegistry, model: String,
        thresholds: IncrementalLearner.Thresholds, audit: AuditLog, autoModels: [String] = [],
        maxPixels: Int64 = 100_000_000
    ) {
        self.maxPixels = maxPixels
        self.audit = audit
        self.store = store
        self.blobs = blobs
        self.models = models
        self.defaultModel = model
        self.thresholds = thresholds
        self.autoModels = autoModels
    }

    public let store: IrisStore
    public let blobs: any BlobStore
    public let models: ModelRegistry
    /// The embedding model of projects that chose none (`learner.model`).
    public let defaultModel: String
    /// The models every new image is analysed with (`analysis.auto_models`): a labelled image
    /// gets an embedding from its project's chosen model when that is not one of them.
    public let autoModels: [String]
    public let thresholds: IncrementalLearner.Thresholds
    /// `image.max_pixels`: files that are not stored (classify uploads) are held to it too.
    public let maxPixels: Int64
    /// Where the learning jobs' news is recorded.
    public let audit: AuditLog
    /// Learners made ready for classifying, per project, while they are unchanged.
    let prepared = PreparedLearners()

    /// What adding a class did.
    public struct AddedClass: Sendable {
        public init(name: String, added: Int, report: ImportReport? = nil, failed: [(sha256: String, reason: String)]) {
            self.name = name
            self.added = added
            self.report = report
            self.failed = failed
        }

        public var name: String
        public var added: Int
        public var report: ImportReport?
        /// Images that were stored but could not be embedded.
        public var failed: [(sha256: String, reason: String)]
    }

    public struct Classified: Sendable {
        public init(answer: IncrementalLearner.Answer, embedding: Duration, classify: Duration) {
            self.answer = answer
            self.embedding = embedding
            self.classify = classify
        }

        public var answer: IncrementalLearner.Answer
        public var embedding: Duration
        public var classify: Duration
    }

    public func embedder(_ name: String) throws -> Model {
        guard let model = models.model(name), model.manifest.embeds else {
            throw Refusal.conflict(
                "the learner's embedding model \(name) is not available (see GET /api/v1/models, the project's learner model and the learner.model setting)"
            )
        }
        return model
    }

    /// The names of the models that can be chosen: those that embed.
    public var embeddingModels: [String] {
        models.available.filter { $0.manifest.embeds }.map(\.name).sorted()
    }

    /// The model the project chose for its learner and heads, or the setting's.
    public func chosenModel(projectID: Int64) async throws -> String {
        try await store.learning.chosenModel(projectID: projectID) ?? defaultModel
    }

    /// The model the project's learner's classes are in now: its chosen one, once a
    /// change of model has been rebuilt (`consolidate`).
    public func learnerModel(projectID: Int64) async throws -> String {
        if let record = try await store.learning.learner(projectID: projectID) { return record.model }
        return try await chosenModel(projectID: projectID)
    }

    // MARK: - Embeddings

    /// A stored image's embedding: the one kept from its analysis, or made now (and kept).
    public func embedding(sha256: String, model: String) async throws -> [Float] {
        if let stored = try await store.analyses.embedding(sha256: sha256, model: model) { return stored.vector }
        guard let path = try await blobs.localFile(for: .original(sha256)) else {
            throw Refusal.notFound("no stored image has sha256 \(sha256)")
        }
        let embedder = try embedder(model)
        let output = try await embedder.analyze(path: path)
        guard let vector = output.embedding else { throw Refusal.conflict("\(model) gave no embedding") }
        // Kept for next time; an analysis job storing the same result at the same moment is no failure.
        _ = try? await AnalysisJob.save(output, model: model, sha256: sha256, store: store)
        return vector
    }

    /// Embeds a file that is not stored (classify uploads), after the checks an upload gets:
    /// an accepted format, a readable header, and no more than `maxPixels`.
    public func embedding(path: String, model: String) async throws -> [Float] {
        // Reading a header decodes no pixels: milliseconds, even for a hostile file.
        let size = try ImageInspector.headerSize(path: path)
        try ImageInspector.checkPixels(width: size.width, height: size.height, limit: maxPixels, field: "file")
        guard let vector = try await embedder(model).analyze(path: path).embedding else {
            throw Refusal.conflict("\(model) gave no embedding")
        }
        return vector
    }

    // MARK: - Learner

    public func learner(projectID: Int64) async throws -> IncrementalLearner? {
        guard let record = try await store.learning.learner(projectID: projectID) else { return nil }
        let classes = try await store.learning.classes(projectID: projectID, names: nil)
        return Self.learner(record, classes)
    }

    /// Adds a new class from a zip of its photos: each is stored in the project with the
    /// class's name as its label, then embedded. Whatever can refuse is asked first (the
    /// class is new, the learner's model can embed); a refusal after the import (a class of
    /// the same name made meanwhile, no photo that embeds) takes the import back, so a refused
    /// request leaves no image, membership, label or blob behind.
    public func addClass(
        to project: Project, name: String, zip: URL, importer: ImageFolderImport
    ) async throws -> AddedClass {
        let projectID = project.id
        try await refuseExisting(name, projectID: projectID)
        _ = try embedder(try await learnerModel(projectID: projectID))
        let report = try await importer.importZip(
            at: zip, into: project, format: .imagefolder, labelFromFolders: false, label: name)
        do {
            guard !report.sha256s.isEmpty else {
                let reasons = report.skipped.prefix(3).map { "\($0.path): \($0.reason)" }.joined(separator: "; ")
                throw Refusal.invalid(
                    "the zip holds no image\(reasons.isEmpty ? "" : " (\(reasons))"); the class was not made",
                    field: "file")
            }
            return try await addClass(projectID: projectID, name: name, sha256s: report.sha256s, report: report)
        } catch {
            try await importer.undo(report, in: projectID)
            throw error
        }
    }

    /// A new class's name as sent: trimmed, within the label rules and the project's label set.
    public static func newClassName(_ raw: String?, in project: Project) throws -> String {
        guard let raw, !raw.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw Refusal.invalid("name the class in the part or field \"name\"", field: "name")
        }
        let name = try NameRules.validated(
            raw.trimmingCharacters(in: .whitespaces), field: "name", maxLength: NameRules.maxLabel)
        if let allowed = project.labelSet, !allowed.contains(name) {
            throw Refusal.invalid("\"\(name)\" is not a label in project \(project.name)'s label set", field: "name")
        }
        return name
    }

    /// A 400 naming the `model` field unless `name` is a model that embeds.
    public func checkEmbeddingModel(_ name: String) throws {
        guard embeddingModels.contains(name) else {
            throw Refusal.invalid(
                "model must name an embedding model (\(embeddingModels.joined(separator: ", "))), not \"\(name.prefix(60))\"",
                field: "model")
        }
    }

    /// Makes `model` (nil: the `learner.model` setting's) the project's learner model. When the
    /// learner's classes are over another model they are rebuilt over this one, every member
    /// embedded anew, in a job on `queue`. Answers the model now chosen when it changed.
    public func choose(model: String?, projectID: Int64, rebuildingWith queue: JobQueue) async throws -> String? {
        if let model { try checkEmbeddingModel(model) }
        let before = try await chosenModel(projectID: projectID)
        try await store.learning.setChosenModel(projectID: projectID, model == defaultModel ? nil : model)
        let after = model ?? defaultModel
        if let record = try await store.learning.learner(projectID: projectID), record.model != after {
            _ = try await queue.enqueue(try ConsolidateJob.request(projectID: projectID))
        }
        return after == before ? nil : after
    }

    /// What to classify: a file sent with the request (never stored) or a stored image of the project.
    public enum ClassifyInput: Sendable {
        case file(path: String)
        case stored(sha256: String)
    }

    /// A 409 unless the project's learner has a class to answer with: asked before any file is read.
    public func requireClasses(in project: Project) async throws {
        guard let record = try await store.learning.learner(projectID: project.id), record.classCount > 0 else {
            throw Refusal.conflict(
                "the learner of project \(project.name) has no classes yet: add one (POST …/learner/classes) before classifying"
            )
        }
    }

    /// Each input's answer, or why that one could not be classified (a 409 when the learner
    /// has no class, a 404 when a stored image is not the project's, before anything is embedded).
    public func classify(_ inputs: [ClassifyInput], in project: Project) async throws
        -> [Result<IncrementalLearner.Answer, any Error>]
    {
        try await requireClasses(in: project)
        for case .stored(let sha256) in inputs {
            guard try await store.images.member(sha256: sha256, of: project.id) != nil else {
                throw Refusal.notFound("project \(project.name) has no image \(sha256)")
            }
        }
        let model = try await learnerModel(projectID: project.id)
        var answers: [Result<IncrementalLearner.Answer, any Error>] = []
        for input in inputs {
            do {
                let vector =
                    switch input {
                    case .file(let path): try await embedding(path: path, model: model)
                    case .stored(let sha256): try await embedding(sha256: sha256, model: model)
                    }
                answers.append(.success(try await classify(projectID: project.id, vectors: [vector])[0]))
            } catch {
                answers.append(.failure(error))
            }
        }
        return answers
    }

    /// 409 when the learner already has a class of this name.
    public func refuseExisting(_ name: String, projectID: Int64) async throws {
        if let existing = try await store.learning.classes(projectID: projectID, names: [name]).first {
            throw Refusal.conflict(
                "the learner already has a class named \(existing.name); add examples by labelling images, or remove it first",
                field: "name")
        }
    }

    /// Adds a new class from stored images (all of one label, or imported from a zip).
    /// 409 when the class exists; 400 when there is no image. Images that cannot be
    /// embedded are reported and left out.
    public func addClass(projectID: Int64, name: String, sha256s: [String], report: ImportReport? = nil) async throws
        -> AddedClass
    {
        try await refuseExisting(name, projectID: projectID)
        guard !sha256s.isEmpty else {
            throw Refusal.invalid("there is no image to make the class \(name) from", field: "file")
        }
        let model = try await learnerModel(projectID: projectID)
        var examples: [(sha256: String, vector: [Float])] = []
        var failed: [(sha256: String, reason: String)] = []
        // A few at once: the model's batcher runs what arrives together as one batch.
        let unique = Set(sha256s).sorted()
        // Each answer: the image, and its vector or why it has none.
        await withTaskGroup(of: (String, [Float]?, String?).self) { group in
            var pending = unique.makeIterator()
            let embed: @Sendable (String) async -> (String, [Float]?, String?) = { sha256 in
                do { return (sha256, try await embedding(sha256: sha256, model: model), nil) } catch {
                    return (sha256, nil, (error as? Refusal)?.detail ?? String(describing: error))
                }
            }
            for _ in 0..<4 {
                guard let sha256 = pending.next() else { break }
                group.addTask { await embed(sha256) }
            }
            while let (sha256, vector, reason) = await group.next() {
                if let vector { examples.append((sha256, vector)) } else { failed.append((sha256, reason ?? "")) }
                if let next = pending.next() { group.addTask { await embed(next) } }
            }
        }
        examples.sort { $0.sha256 < $1.sha256 }
        guard !examples.isEmpty else {
            throw Refusal.unprocessable(
                "no-embeddings", "none of the images could be embedded: \(failed.first?.reason ?? "")", field: "file")
        }
        let added = try await add(projectID: projectID, name: name, model: model, examples: examples, mustBeNew: true)
        return AddedClass(name: name, added: added, report: report, failed: failed)
    }

    /// Adds examples (embedded by `model`) to one class (made when new): reads and writes that class alone.
    @discardableResult
    public func add(
        projectID: Int64, name: String, model: String, examples: [(sha256: String, vector: [Float])],
        mustBeNew: Bool = false
    ) async throws -> Int {
        return try await store.learning.update(projectID: projectID, names: [name]) { record, classes in
            if mustBeNew, !classes.isEmpty {
                throw Refusal.conflict("the learner already has a class named \(name)", field: "name")
            }
            let dimension = record?.dimension ?? examples.first?.vector.count ?? 0
            if let record, record.model != model {
                throw Refusal.conflict(
                    "the learner's classes are over \(record.model), not \(model): it is being rebuilt over its new model; try again when that is done"
                )
            }
            let joins = examples.contains { $0.vector.count == dimension }
            var learner =
                record.map { Self.learner($0, classes, reviving: joins ? [name] : []) }
                ?? IncrementalLearner(dimension: dimension)
            var added = 0
            for example in examples where example.vector.count == dimension {
                learner.add(example.vector, to: name)
                added += 1
            }
            var change = LearnerChange(
                learner: Self.record(learner, projectID: projectID, model: model, previous: record))
            change.upserted = [Self.classRecord(learner.shells[name]!, previous: classes.first)]
            change.members = examples.map { (name, $0.sha256) }
            return (change, added)
        }
    }

    /// Removes one class; 404 when there is none of that name.
    public func removeClass(projectID: Int64, name: String) async throws {
        let removed = try await store.learning.update(projectID: projectID, names: [name]) {
            record, classes -> (LearnerChange?, Bool) in
            guard let record, !classes.isEmpty else { return (nil, false) }
            var learner = Self.learner(record, classes)
            learner.remove(name)
            var change = LearnerChange(
                learner: Self.record(learner, projectID: projectID, model: record.model, previous: record))
            change.removed = [name]
            return (change, true)
        }
        guard removed else { throw Refusal.notFound("the learner has no class named \(name)") }
    }

    /// Classifies features against every class; 409 before there is any.
    /// The threshold rules of a project's learner: the settings' with the owner's factor.
    public func rules(projectID: Int64) async throws -> IncrementalLearner.Thresholds {
        var rules = thresholds
        rules.scale = try await store.learning.thresholdScale(projectID: projectID) ?? 1
        return rules
    }

    public func classify(projectID: Int64, vectors: [[Float]]) async throws -> [IncrementalLearner.Answer] {
        let none = Refusal.conflict(
            "the learner has no classes yet: add one (POST …/learner/classes) before classifying")
        guard let record = try await store.learning.learner(projectID: projectID), record.classCount > 0 else {
            throw none
        }
        let rules = try await rules(projectID: projectID)
        let ready: IncrementalLearner.Prepared
        if let cached = prepared.get(projectID, at: record.updatedAt, scale: rules.scale) {
            ready = cached
        } else {
            let classes = try await store.learning.classes(projectID: projectID, names: nil)
            let calibration = models.model(record.model)?.manifest.calibration ?? .standard
            // Classes made from a name (no photo yet) answer by their prototypes.
            let named = try prototypes(model: record.model, classes: classes)
            var shown = record
            // Photos are centred once two classes have photos (not counting named-only classes).
            if !named.vectors.isEmpty { shown.classCount = classes.filter { $0.count > 0 }.count }
            ready = Self.learner(shown, classes).prepared(
                rules: rules, calibration: calibration, prototypes: named.vectors, textCentre: named.centre)
            prepared.set(projectID, at: record.updatedAt, scale: rules.scale, ready)
        }
        guard !ready.isEmpty else { throw none }
        // A learner of names alone (no photo yet) answers as CLIP does: a softmax of the logit
        // scale × cosine over the names, whose top share is the answer's confidence.
        if record.count == 0, let image = models.model(record.model)?.manifest, image.tasks.contains(.embedImage) {
            let temperature = 1 / (image.logitScale ?? 100)
            return vectors.map { vector in
                var answer = ready.classify(vector, temperature: temperature)
                answer.confidence = answer.ranked.first?.confidence ?? 0
                return answer
            }
        }
        return vectors.map { ready.classify($0) }
    }

    /// A human-labelled image got its embedding from `model`: it joins the classes named by
    /// its labels, in every project whose learner has them. O(1) per class joined. Learners
    /// over a model derived from `model` take the vector its analysis derived; learners over
    /// a model no automatic analysis runs get their embedding made now, once (by the first
    /// automatic model's analysis).
    public func embedded(sha256: String, vector: [Float], model: String) async throws {
        for (projectID, name, learnerModel) in try await store.learning.pendingMemberships(sha256: sha256) {
            let example: [Float]
            let source = models.model(learnerModel)?.manifest.derived?.from ?? learnerModel
            if learnerModel == model {
                example = vector
            } else if source == model || (model == autoModels.first && !autoModels.contains(source)) {
                example = try await embedding(sha256: sha256, model: learnerModel)
            } else {
                continue
            }
            try await add(projectID: projectID, name: name, model: learnerModel, examples: [(sha256, example)])
        }
    }

    /// Labels of these photos were corrected: each joins the learner classes its human labels
    /// now name and leaves those whose label it lost, in O(dimension) each, so the next
    /// classify answers with the corrected classes. A photo with no embedding from the
    /// learner's model yet joins when its analysis stores one (`embedded`).
    public func follow(labelsOf sha256s: [String], projectID: Int64) async throws {
        guard !sha256s.isEmpty, let record = try await store.learning.learner(projectID: projectID) else { return }
        let drift = try await store.learning.labelDrift(projectID: projectID, sha256s: sha256s)
        guard !drift.joining.isEmpty || !drift.leaving.isEmpty else { return }
        let model = record.model
        let vectors = try await store.search.embeddings(
            model: model, sha256s: Array(Set((drift.joining + drift.leaving).map(\.sha256))))
        let names = Array(Set((drift.joining + drift.leaving).map(\.name))).sorted()
        try await store.learning.update(projectID: projectID, names: names) {
            current, classes -> (LearnerChange?, Void) in
            // A rebuild over another model is under way: it reads the labels afresh.
            guard let current, current.model == model else { return (nil, ()) }
            // A class with no photo (made from a name, or emptied) takes its first ones too.
            let empty = Set(classes.filter { $0.count == 0 }.map(\.name))
            let reviving = Set(
                drift.joining.filter { vectors[$0.sha256]?.count == current.dimension }.map(\.name)
            ).intersection(empty)
            var learner = Self.learner(current, classes, reviving: reviving)
            var leaving: [(name: String, sha256: String)] = []
            var joining: [(name: String, sha256: String)] = []
            for member in drift.leaving {
                guard let vector = vectors[member.sha256], vector.count == learner.dimension else { continue }
                learner.subtract(vector, from: member.name)
                leaving.append(member)
            }
            for member in drift.joining where learner.shells[member.name] != nil || reviving.contains(member.name) {
                guard let vector = vectors[member.sha256], vector.count == learner.dimension else { continue }
                learner.add(vector, to: member.name)
                joining.append(member)
            }
            guard !leaving.isEmpty || !joining.isEmpty else { return (nil, ()) }
            var change = LearnerChange(
                learner: Self.record(learner, projectID: projectID, model: model, previous: current))
            let previous = Dictionary(uniqueKeysWithValues: classes.map { ($0.name, $0) })
            change.upserted = names.compactMap { name in
                learner.shells[name].map { Self.classRecord($0, previous: previous[name]) }
            }
            change.members = joining
            change.leaving = leaving
            return (change, ())
        }
    }

    /// Rebuilds a learner exactly from its members' embeddings (the periodic consolidation),
    /// over the project's chosen model: after a change of model, each member is embedded
    /// anew (reported through `progress`). Answers the number of members, or nil when the
    /// project has no learner.
    public func consolidate(projectID: Int64, progress: @Sendable (Int, Int) -> Void = { _, _ in }) async throws
        -> Int?
    {
        guard let current = try await store.learning.learner(projectID: projectID) else { return nil }
        let model = try await chosenModel(projectID: projectID)
        if model != current.model { _ = try embedder(model) }
        var members: [(label: String, feature: [Float])] = []
        var kept: [(name: String, sha256: String)] = []
        let all = try await store.learning.members(projectID: projectID)
        for (index, member) in all.enumerated() {
            let vector: [Float]?
            if model == current.model {
                vector = try await store.analyses.embedding(sha256: member.sha256, model: model)?.vector
            } else {
                // An image deleted since it joined has nothing to embed: it leaves.
                vector = try? await embedding(sha256: member.sha256, model: model)
                progress(index + 1, all.count)
            }
            guard let vector else { continue }
            members.append((member.name, vector))
            kept.append(member)
        }
        let snapshot = members
        let memberRows = kept
        return try await store.learning.update(projectID: projectID, names: nil) { record, classes in
            guard let record else { return (nil, nil) }
            let dimension = snapshot.first?.feature.count ?? record.dimension
            let rebuilt = IncrementalLearner.rebuilt(dimension: dimension, members: snapshot)
            var learnerRecord = Self.record(rebuilt, projectID: projectID, model: model, previous: record)
            learnerRecord.consolidatedAt = learnerRecord.updatedAt
            var change = LearnerChange(learner: learnerRecord)
            change.replaceAll = true
            let previous = Dictionary(uniqueKeysWithValues: classes.map { ($0.name, $0) })
            // Classes whose members are all gone stay, empty, until removed: a user made them.
            change.upserted =
                classes.map { old in
                    rebuilt.shells[old.name].map { Self.classRecord($0, previous: old) }
                        ?? LearnerClassRecord(
                            name: old.name, count: 0, sum: [Double](repeating: 0, count: dimension),
                            noiseMean: 0, noiseM2: 0,
                            createdAt: old.createdAt, updatedAt: Date())
                }
                + rebuilt.shells.values.filter { previous[$0.name] == nil }.map { Self.classRecord($0, previous: nil) }
            change.members = memberRows
            return (change, snapshot.count)
        }
    }

    /// Embeds the project's labelled images that have no embedding from `model` yet (after a
    /// change of model), reporting (done, total). Answers how many could not be embedded.
    public func embedLabelled(projectID: Int64, model: String, progress: @Sendable (Int, Int) -> Void) async throws
        -> Int
    {
        let missing = try await store.learning.labelledWithoutEmbedding(projectID: projectID, model: model)
        guard !missing.isEmpty else { return 0 }
        _ = try embedder(model)
        var failed = 0
        for (index, sha256) in missing.enumerated() {
            if (try? await embedding(sha256: sha256, model: model)) == nil { failed += 1 }
            progress(index + 1, missing.count)
        }
        return failed
    }

    // MARK: - Records

    public static func learner(_ record: LearnerRecord, _ classes: [LearnerClassRecord]) -> IncrementalLearner {
        IncrementalLearner(
            dimension: record.dimension, globalSum: record.globalSum, count: record.count,
            shells: classes.filter { $0.count > 0 }.map {
                IncrementalLearner.Shell(
                    name: $0.name, count: $0.count, sum: $0.sum, noiseMean: $0.noiseMean, noiseM2: $0.noiseM2)
            },
            classCount: record.classCount)
    }

    /// The learner ready for photos to join `reviving` classes that have none yet (made from a
    /// name, or emptied): such a class is counted again when its first photo makes its shell.
    static func learner(_ record: LearnerRecord, _ classes: [LearnerClassRecord], reviving names: Set<String>)
        -> IncrementalLearner
    {
        var shown = record
        shown.classCount -= classes.filter { $0.count == 0 && names.contains($0.name) }.count
        return learner(shown, classes)
    }

    public static func record(_ learner: IncrementalLearner, projectID: Int64, model: String, previous: LearnerRecord?)
        -> LearnerRecord
    {
        LearnerRecord(
            projectID: projectID, model: model, dimension: learner.dimension, count: learner.count,
            classCount: learner.classCount,
            globalSum: learner.globalSum, updatedAt: Date(), consolidatedAt: previous?.consolidatedAt)
    }

    public static func classRecord(_ shell: IncrementalLearner.Shell, previous: LearnerClassRecord?)
        -> LearnerClassRecord
    {
        let now = Date()
        return LearnerClassRecord(
            name: shell.name, count: shell.count, sum: shell.sum, noiseMean: shell.noiseMean, noiseM2: shell.noiseM2,
            createdAt: previous?.createdAt ?? now, updatedAt: now)
    }
}

/// A small cache of prepared learners, keyed by project and the learner's last change.
final class PreparedLearners: Sendable {
    private let entries = NIOLockedValueBox<[Int64: (Date, Double, IncrementalLearner.Prepared)]>([:])

    public func get(_ projectID: Int64, at version: Date, scale: Double) -> IncrementalLearner.Prepared? {
        entries.withLockedValue { $0[projectID].flatMap { $0.0 == version && $0.1 == scale ? $0.2 : nil } }
    }

    public func set(_ projectID: Int64, at version: Date, scale: Double, _ learner: IncrementalLearner.Prepared) {
        entries.withLockedValue { entries in
            if entries.count > 64 { entries.removeAll() }
            entries[projectID] = (version, scale, learner)
        }
    }
}
