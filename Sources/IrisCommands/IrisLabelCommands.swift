import Foundation
import IrisBenchmarks
public import IrisServices

/// `iris label-bench` (for `make bench`): a bulk relabel and its undo against another writer.
public enum IrisLabelCommands {
    /// Prints the label benchmark's report as one JSON line.
    public static func bench(_ settings: IrisSettings, photos: Int) async throws {
        let report = try await LabelBenchmark.run(settings, photos: photos)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
}
