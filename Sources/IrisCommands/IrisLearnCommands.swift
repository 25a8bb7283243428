import Foundation
import IrisCore
import IrisImaging
import IrisML
import IrisServer
public import IrisServices
import IrisStore

/// `iris learn add-class | classify`, `iris train`, `iris evaluate`: a project's learning,
/// run locally against the database and data folder (like `iris import`), no server needed.
public enum IrisLearnCommands {
    /// Opens what learning needs, runs `body`, and closes it; a `Refusal` becomes a one-line failure.
    static func with<T>(
        _ settings: IrisSettings, project reference: String, create: Bool = false,
        _ body: (LearningService, Project, IrisDependencies) async throws -> T
    ) async throws -> T {
        let logger = settings.makeLogger()
        let dependencies = try await IrisDependencies.open(settings, logger: logger)
        do {
            let learning = LearningService(
                store: dependencies.store, blobs: dependencies.blobs, models: settings.models.registry(logger: logger),
                model: settings.models.learnerModel, thresholds: settings.models.thresholds,
                audit: AuditLog(store: dependencies.store))
            var found =
                if let id = Int64(reference) { try await dependencies.store.projects.find(id: id) } else {
                    try await dependencies.store.projects.find(name: reference)
                }
            if found == nil, create {
                let name = try NameRules.validated(reference, field: "project", maxLength: NameRules.maxProjectName)
                found = try await dependencies.store.projects.create(name: name, description: "", labelSet: nil)
            }
            guard let project = found else { throw Refusal.notFound("no project is named or numbered \(reference)") }
            let result = try await body(learning, project, dependencies)
            await dependencies.close()
            return result
        } catch {
            await dependencies.close()
            if let message = CommandFailure.message(for: error) { throw CommandFailure(message: message) }
            if let failure = error as? PermanentJobFailure { throw CommandFailure(message: failure.message) }
            throw error
        }
    }

    /// Stores every image of a zip or folder in the project (made when no project has that
    /// name) with the class name as label, and makes the class.
    public static func addClass(_ settings: IrisSettings, project: String, name raw: String, path: String) async throws
    {
        try await with(settings, project: project, create: true) { learning, project, dependencies in
            let name = try NameRules.validated(raw, field: "name", maxLength: NameRules.maxLabel)
            if try await !dependencies.store.learning.classes(projectID: project.id, names: [name]).isEmpty {
                throw Refusal.conflict("the learner of \(project.name) already has a class named \(name)")
            }
            let importer = try dependencies.importer(settings)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw Refusal.invalid("\(path) does not exist")
            }
            let bar = ProgressBar()
            let url = URL(fileURLWithPath: path)
            let report =
                isDirectory.boolValue
                ? try await importer.importFolder(
                    at: url, into: project, format: .imagefolder, labelFromFolders: false, label: name,
                    progress: bar.update)
                : try await importer.importZip(
                    at: url, into: project, format: .imagefolder, labelFromFolders: false, label: name,
                    progress: bar.update)
            bar.finish()
            guard !report.sha256s.isEmpty else {
                throw Refusal.invalid("\(path) holds no image; the class was not made")
            }
            let started = ContinuousClock.now
            let added = try await learning.addClass(
                projectID: project.id, name: name, sha256s: report.sha256s, report: report)
            print(
                "Class \(name) of \(project.name): \(added.added) examples (\(report.imported) new images, \(report.duplicates) already stored) in \(ContinuousClock.now - started)."
            )
            for skipped in report.skipped { print("  skipped \(skipped.path): \(skipped.reason)") }
            for failed in added.failed { print("  not embedded \(failed.sha256): \(failed.reason)") }
        }
    }

    /// Classifies local files against the project's learner. Answers false when a file could not be read.
    public static func classify(_ settings: IrisSettings, project: String, files: [String]) async throws -> Bool {
        try await with(settings, project: project) { learning, project, _ in
            var allRead = true
            let model = try await learning.learnerModel(projectID: project.id)
            for file in files {
                do {
                    let answer = try await learning.classify(
                        projectID: project.id, vectors: [try await learning.embedding(path: file, model: model)])[0]
                    // The page's sentence, with its one calibrated percentage; then the distances behind it.
                    let distances = answer.ranked.prefix(3).map { "\($0.label) \(String(format: "%.3f", $0.distance))" }
                    let threshold = answer.ranked.first.map { String(format: "%.3f", $0.threshold) } ?? "-"
                    print(
                        "\(file): \(ModelInWords.sentence(for: answer))  (distances \(distances.joined(separator: ", ")); answers within \(threshold))"
                    )
                } catch let error as VipsError {
                    allRead = false
                    FileHandle.standardError.write(Data("\(file): \(error)\n".utf8))
                }
            }
            return allRead
        }
    }

    /// Trains a new classifier version and prints its figures.
    public static func train(_ settings: IrisSettings, project: String, activate: Bool) async throws {
        try await with(settings, project: project) { learning, project, _ in
            let record = try await learning.train(projectID: project.id, jobID: nil) { _, message in
                FileHandle.standardError.write(Data("\r\(message)".utf8))
            }
            FileHandle.standardError.write(Data("\n".utf8))
            let summary = try JSONDecoder().decode(LearningService.TrainingSummary.self, from: Data(record.report.utf8))
            print(
                "Classifier v\(record.version) of \(project.name): \(summary.classes.count) classes, \(summary.trainCount) training and \(summary.validationCount) validation images (\(summary.heldOut) held out for tests); best epoch \(summary.bestEpoch) of \(summary.epochs.count), validation accuracy \(String(format: "%.1f%%", summary.validationAccuracy * 100)), \(String(format: "%.2f", summary.seconds)) s."
            )
            if activate {
                let labelled = try await learning.activate(projectID: project.id, version: record.version)
                print("v\(record.version) is active; it labelled \(labelled) images.")
            }
        }
    }

    /// Tests the learner or a classifier version, keeps the run and prints its report.
    public static func evaluate(_ settings: IrisSettings, project: String, target: String, version: Int?, split: String)
        async throws
    {
        guard let target = LearningService.Target(rawValue: target) else {
            throw CommandFailure(message: "--target must be learner or classifier")
        }
        guard let split = LearningService.Split(rawValue: split) else {
            throw CommandFailure(message: "--split must be held-out or all")
        }
        try await with(settings, project: project) { learning, project, _ in
            let record = try await learning.evaluate(
                projectID: project.id, target: target, version: version, split: split, jobID: nil)
            let report = try JSONDecoder().decode(LearningService.EvaluationBody.self, from: Data(record.report.utf8))
                .report
            func percent(_ value: Double) -> String { String(format: "%5.1f%%", value * 100) }
            print(
                "Evaluation \(record.id) of \(project.name)'s \(target.rawValue)\(record.version.map { " v\($0)" } ?? "") on the \(split.rawValue) split: \(report.count) images"
            )
            print(
                "  accuracy \(percent(report.accuracy)), top-\(report.topK) \(percent(report.topKAccuracy)), unknown \(percent(report.unknownRate))"
            )
            for item in report.classes {
                print(
                    "  \(item.label.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(format: "%4d", item.support))  precision \(percent(item.precision))  recall \(percent(item.recall))  F1 \(percent(item.f1))"
                )
            }
            print("  confusion (rows: true class; columns: \(report.labels.joined(separator: ", ")), unknown):")
            for (label, row) in zip(report.labels, report.confusion) {
                print(
                    "    \(label.padding(toLength: 16, withPad: " ", startingAt: 0)) \(row.map { String(format: "%4d", $0) }.joined())"
                )
            }
            for point in report.coverage ?? [] {
                print(
                    "  answering within ×\(point.ratio) of a threshold: coverage \(percent(point.coverage)), accuracy \(percent(point.accuracy))"
                )
            }
        }
    }
}
