import AsyncHTTPClient
import Foundation
import IrisBenchmarks
import IrisML
public import IrisServices

/// `iris label-bench` (for `make bench`): a bulk relabel and its undo against another writer;
/// `iris map-bench-project`: the map's and the label check's jobs on a large seeded project.
public enum IrisLabelCommands {
    /// Prints the label benchmark's report as one JSON line.
    public static func bench(_ settings: IrisSettings, photos: Int, chunk: Int? = nil) async throws {
        let report = try await LabelBenchmark.run(settings, photos: photos, chunk: chunk)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }

    /// Prints how long the map layout and the label check took on a seeded project, one line
    /// each; with `seedOnly`, only the project's id (the data folder is left for the page benchmark).
    public static func mapBench(_ settings: IrisSettings, photos: Int, seedOnly: Bool) async throws {
        let logger = settings.makeLogger()
        let dependencies = try await IrisDependencies.open(settings, logger: logger)
        let outcome: Result<MapBenchmark.Report, any Error>
        do {
            let system = try IrisSystem(
                settings: settings, dependencies: dependencies, workers: [], schedule: false, logger: logger,
                models: .empty)
            do {
                outcome = .success(try await MapBenchmark.run(system, photos: photos))
            } catch {
                outcome = .failure(error)
            }
            try? await system.httpClient.shutdown()
        } catch {
            outcome = .failure(error)
        }
        await dependencies.close()
        let report = try outcome.get()
        guard !seedOnly else {
            print(report.projectID)
            return
        }
        print(
            String(
                format:
                    "map layout job (PhotoMap.refresh): %d photos × %d-d embeddings read, laid out and kept in %.1f s (target: 50,000 in under 60 s on 2 cores)",
                report.laidOut, report.dimension, report.mapSeconds))
        print(
            String(
                format:
                    "label check job (LabelQuality.refresh): %d labelled photos in %.1f s (%d below their class's threshold, %d likely wrong; 5%% of labels seeded wrong)",
                report.labelled, report.checkSeconds, report.belowThreshold, report.likely))
    }
}
