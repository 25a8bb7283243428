import ArgumentParser
import IrisCommands

struct LabelBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label-bench",
        abstract:
            "Time a bulk relabel and its undo while another writer writes (for make bench; use an empty database).",
        shouldDisplay: false)
    @OptionGroup var common: CommonOptions
    @Option(help: "How many photos the bulk change relabels.") var photos = 10_000
    @Option(help: "Photos a write transaction of the change (0: one transaction; default: the database's).")
    var chunk: Int?

    func run() async throws {
        try await IrisLabelCommands.bench(try common.settings(), photos: photos, chunk: chunk)
    }
}

struct MapBenchProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map-bench-project",
        abstract:
            "Time the map layout and the label check on a seeded project of synthetic embeddings (for make bench; use an empty database).",
        shouldDisplay: false)
    @OptionGroup var common: CommonOptions
    @Option(help: "How many photos the project has.") var photos = 50_000
    @Flag(help: "Print only the seeded project's id (the data folder stays seeded and laid out).") var seedOnly = false

    func run() async throws {
        try await IrisLabelCommands.mapBench(try common.settings(), photos: photos, seedOnly: seedOnly)
    }
}
