import Foundation
import IrisBlobs
import IrisCore
public import IrisServices
import IrisStore

/// `iris export`: the same zip as `POST /api/v1/projects/{id}/exports`, written straight to a
/// file from the data folder.
public enum IrisExportCommands {
    public static func export(
        _ settings: IrisSettings, project: String, format: String, out: String, split: Bool, human: Bool,
        learner: Bool, modelConfidence: Double?
    ) async throws {
        guard let format = DatasetExport.Format(rawValue: format) else {
            throw CommandFailure(
                message:
                    "--format must be one of \(DatasetExport.Format.allCases.map(\.rawValue).joined(separator: ", ")), not \(format)"
            )
        }
        if let modelConfidence, !(0...1).contains(modelConfidence) {
            throw CommandFailure(message: "--model-confidence must be from 0 to 1")
        }
        guard human || learner || modelConfidence != nil else {
            throw CommandFailure(message: "no labels left: keep human or learner labels, or give --model-confidence")
        }
        let target = URL(fileURLWithPath: out)
        let partial = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).part")
        let logger = settings.makeLogger()
        let dependencies = try await IrisDependencies.open(settings, logger: logger)
        do {
            let found =
                if let id = Int64(project) { try await dependencies.store.projects.find(id: id) } else {
                    try await dependencies.store.projects.find(name: project)
                }
            guard let found else { throw CommandFailure(message: "no project is named or numbered \(project)") }
            let bar = ProgressBar()
            let summary = try await DatasetExport(store: dependencies.store, blobs: dependencies.blobs).write(
                projectID: found.id,
                .init(
                    format: format, split: split,
                    include: .init(human: human, learner: learner, modelConfidence: modelConfidence)),
                to: partial
            ) { done, total in bar.draw(done: done, total: total) { _ in "" } }
            bar.finish()
            // In place only when complete: an interrupted export leaves no half zip under the name asked for.
            _ = try? FileManager.default.removeItem(at: target)
            try FileManager.default.moveItem(at: partial, to: target)
            print(
                "Wrote \(out): \(summary.images) images in \(summary.classes.count) classes, \(String(format: "%.1f", Double(summary.bytes) / 1e6)) MB"
                    + (summary.skipped > 0
                        ? "; \(summary.skipped) left out (no label, or their bytes are missing)" : ""))
            await dependencies.close()
        } catch {
            try? FileManager.default.removeItem(at: partial)
            await dependencies.close()
            throw error
        }
    }
}
