import Foundation
public import IrisCore
public import IrisML
import IrisStore

/// "Train model" and "Test model": trained heads on a project's labelled embeddings, and
/// evaluations of the learner or a head, each kept.
extension LearningService {
    /// The held-out split: about a fifth of the images, chosen by their hash, so an image
    /// is on the same side in every run and no trained head ever saw a held-out image.
    public static func isHeldOut(_ sha256: String) -> Bool {
        guard let first = sha256.prefix(2).hexValue else { return false }
        return first < 52
    }

    public struct TrainingSummary: Codable, Sendable {
        public init(
            classes: [String], trainCount: Int, validationCount: Int, heldOut: Int, bestEpoch: Int,
            validationAccuracy: Double, refit: Bool? = nil, seconds: Double, epochs: [EpochBody]
        ) {
            self.classes = classes
            self.trainCount = trainCount
            self.validationCount = validationCount
            self.heldOut = heldOut
            self.bestEpoch = bestEpoch
            self.validationAccuracy = validationAccuracy
            self.refit = refit
            self.seconds = seconds
            self.epochs = epochs
        }

        public var classes: [String]
        public var trainCount: Int
        public var validationCount: Int
        public var heldOut: Int
        public var bestEpoch: Int
        public var validationAccuracy: Double
        /// The final head was refit on training and validation images together (small sets).
        public var refit: Bool?
        public var seconds: Double
        public var epochs: [EpochBody]

        public struct EpochBody: Codable, Sendable {
            var epoch: Int
            var trainLoss: Double
            var validationLoss: Double
            var validationAccuracy: Double

            enum CodingKeys: String, CodingKey {
                case epoch
                case trainLoss = "train_loss"
                case validationLoss = "validation_loss"
                case validationAccuracy = "validation_accuracy"
            }
        }

        public enum CodingKeys: String, CodingKey {
            case classes, epochs, seconds
            case trainCount = "train_count"
            case validationCount = "validation_count"
            case heldOut = "held_out"
            case bestEpoch = "best_epoch"
            case validationAccuracy = "validation_accuracy"
            case refit
        }
    }

    /// Trains a new head version on the project's human-labelled embeddings outside the held-out split.
    public func train(projectID: Int64, jobID: Int64?, progress: @escaping @Sendable (Double, String) -> Void)
        async throws -> ClassifierRecord
    {
        // Over the project's chosen model: images labelled before it was chosen are embedded first.
        let model = try await chosenModel(projectID: projectID)
        let failed = try await embedLabelled(projectID: projectID, model: model) { done, total in
            progress(0.3 * Double(done) / Double(total), "embedded \(done) of \(total) labelled images with \(model)")
        }
        let all = try await store.learning.labelledEmbeddings(projectID: projectID, model: model)
        let training = all.filter { !Self.isHeldOut($0.sha256) }
        let classes = Array(Set(training.map(\.label))).sorted()
        guard classes.count >= 2 else {
            throw PermanentJobFailure(
                "training needs human-labelled images of at least two classes with \(model) embeddings outside the held-out split; there are \(training.count) images of \(classes.count) classes\(failed > 0 ? " (\(failed) could not be embedded)" : "")"
            )
        }
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let started = ContinuousClock.now
        let options = SoftmaxRegression.Options()
        let (head, report) = try await offloadBlocking {
            try SoftmaxRegression.train(
                features: training.map(\.vector), labels: training.map { index[$0.label]! }, classes: classes,
                options: options,
                progress: { epoch in
                    progress(
                        min(0.95, 0.3 + 0.7 * Double(epoch.epoch) / Double(options.maxEpochs)),
                        "epoch \(epoch.epoch): validation accuracy \(String(format: "%.3f", epoch.validationAccuracy))")
                })
        }
        let best = report.epochs.first { $0.epoch == report.bestEpoch }
        let summary = TrainingSummary(
            classes: classes, trainCount: report.trainCount, validationCount: report.validationCount,
            heldOut: all.count - training.count,
            bestEpoch: report.bestEpoch, validationAccuracy: best?.validationAccuracy ?? 0, refit: report.refit,
            seconds: (ContinuousClock.now - started).seconds,
            epochs: report.epochs.map {
                .init(
                    epoch: $0.epoch, trainLoss: $0.trainLoss, validationLoss: $0.validationLoss,
                    validationAccuracy: $0.validationAccuracy)
            })
        return try await store.learning.addClassifier(
            ClassifierRecord(
                projectID: projectID, model: model, classes: classes,
                parameters: String(decoding: try JSONEncoder().encode(head), as: UTF8.self),
                report: String(decoding: try JSONEncoder().encode(summary), as: UTF8.self), jobID: jobID,
                createdAt: Date()))
    }

    public static func head(_ record: ClassifierRecord) throws -> SoftmaxRegression {
        try JSONDecoder().decode(SoftmaxRegression.self, from: Data(record.parameters.utf8))
    }

    /// The project's active trained head and its record, or nil when no version is active.
    /// One place reads it for every edge that runs it (`/v2`, Label Studio, review suggestions).
    public func activeHead(projectID: Int64) async throws -> (record: ClassifierRecord, head: SoftmaxRegression)? {
        guard let record = try await store.learning.classifiers(projectID: projectID).first(where: \.active) else {
            return nil
        }
        return (record, try Self.head(record))
    }

    /// The model name a project's active head labels images under.
    public static func headModelName(projectID: Int64) -> String { "project-\(projectID)-classifier" }

    /// Whether `model` is some project's trained head (whose labels belong to that project only).
    public static func isHeadModel(_ model: String) -> Bool {
        model.hasPrefix("project-") && model.hasSuffix("-classifier")
    }

    /// Makes a version active and labels the project's embedded images with it. Answers how many were labelled.
    public func activate(projectID: Int64, version: Int) async throws -> Int {
        guard let record = try await store.learning.classifier(projectID: projectID, version: version) else {
            throw Refusal.notFound("project \(projectID) has no classifier version \(version)")
        }
        _ = try await store.learning.activate(projectID: projectID, version: version)
        let head = try Self.head(record)
        var labelled = 0
        for (sha256, vector) in try await store.learning.embeddings(projectID: projectID, model: record.model) {
            if try await label(sha256: sha256, vector: vector, head: head, projectID: projectID, version: version) {
                labelled += 1
            }
        }
        return labelled
    }

    /// Stores a head's top answers on an image as model labels.
    public func label(sha256: String, vector: [Float], head: SoftmaxRegression, projectID: Int64, version: Int)
        async throws -> Bool
    {
        let output = ModelOutput(
            labels: head.ranked(vector).prefix(3).map { ScoredLabel(label: $0.label, score: $0.probability) })
        return try await AnalysisJob.save(
            output, model: Self.headModelName(projectID: projectID), sha256: sha256, store: store)
    }

    // MARK: - Evaluation

    public enum Target: String, Codable, Sendable { case learner, classifier }
    public enum Split: String, Codable, Sendable {
        /// The held-out fifth (by hash); the learner is rebuilt without it first.
        case heldOut = "held-out"
        /// Every labelled image, as the learner or head stands (members included: optimistic).
        case all
    }

    public struct EvaluationBody: Codable, Sendable {
        public init(
            target: Target, version: Int? = nil, split: Split, report: EvaluationReport, labelOperation: Int64? = nil
        ) {
            self.target = target
            self.version = version
            self.split = split
            self.report = report
            self.labelOperation = labelOperation
        }

        public var target: Target
        public var version: Int?
        public var split: Split
        public var report: EvaluationReport
        /// The project's newest label change when the run began (nil: none yet): runs at the same
        /// operation used the same labels; a later one saw the corrections since.
        public var labelOperation: Int64?
    }

    public func evaluate(projectID: Int64, target: Target, version: Int?, split: Split, jobID: Int64?) async throws
        -> EvaluationRecord
    {
        // The learner and each head are tested over the model they were made with.
        let model: String
        let headRecord: ClassifierRecord?
        switch target {
        case .learner:
            model = try await learnerModel(projectID: projectID)
            headRecord = nil
        case .classifier:
            if let version {
                headRecord = try await store.learning.classifier(projectID: projectID, version: version)
            } else {
                let all = try await store.learning.classifiers(projectID: projectID)
                headRecord = all.first(where: \.active) ?? all.first
            }
            guard let found = headRecord else {
                throw PermanentJobFailure(
                    "project \(projectID) has no trained classifier\(version.map { " version \($0)" } ?? "")")
            }
            model = found.model
        }
        _ = try await embedLabelled(projectID: projectID, model: model) { _, _ in }
        let labelled = try await store.learning.labelledEmbeddings(projectID: projectID, model: model)
        let test = labelled.filter { split == .all || Self.isHeldOut($0.sha256) }
        var examples: [EvaluationReport.Example] = []
        var labels: [String]
        var usedVersion: Int?
        var scale: Double?
        switch target {
        case .learner:
            guard var learner = try await learner(projectID: projectID), !learner.shells.isEmpty else {
                throw PermanentJobFailure("the learner has no classes yet: there is nothing to evaluate")
            }
            labels = learner.classNames
            if split == .heldOut {
                // The learner as it would be without the held-out images.
                let members = try await store.learning.members(projectID: projectID).filter {
                    !Self.isHeldOut($0.sha256)
                }
                var features: [(label: String, feature: [Float])] = []
                for member in members {
                    if let vector = try await store.analyses.embedding(sha256: member.sha256, model: model)?.vector {
                        features.append((member.name, vector))
                    }
                }
                learner = IncrementalLearner.rebuilt(dimension: learner.dimension, members: features)
            }
            let known = Set(labels)
            let rules = try await rules(projectID: projectID)
            scale = rules.scale
            for example in test where known.contains(example.label) {
                let answer = learner.classify(example.vector, rules: rules, limit: 3)
                examples.append(
                    .init(
                        truth: example.label, answer: answer.label, ranked: answer.ranked.map(\.label),
                        ratio: answer.ratio))
            }
        case .classifier:
            guard let record = headRecord else { throw PermanentJobFailure("no classifier to evaluate") }
            usedVersion = record.version
            let head = try Self.head(record)
            labels = head.classes
            let known = Set(labels)
            for example in test where known.contains(example.label) {
                let ranked = head.ranked(example.vector).map(\.label)
                examples.append(.init(truth: example.label, answer: ranked.first, ranked: Array(ranked.prefix(3))))
            }
        }
        guard !examples.isEmpty else {
            throw PermanentJobFailure(
                "no labelled image of the \(target.rawValue)'s classes is in the \(split.rawValue) split yet")
        }
        var report = EvaluationReport(examples: examples, labels: labels)
        report.thresholdScale = scale
        let body = EvaluationBody(
            target: target, version: usedVersion, split: split, report: report,
            labelOperation: try await store.labels.latestOperation(in: projectID))
        return try await store.learning.addEvaluation(
            EvaluationRecord(
                projectID: projectID, target: target.rawValue, version: usedVersion, split: split.rawValue,
                report: String(decoding: try JSONEncoder().encode(body), as: UTF8.self), jobID: jobID, createdAt: Date()
            ))
    }
}

extension Substring {
    public var hexValue: Int? { Int(self, radix: 16) }
}
