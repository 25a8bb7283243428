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

    func run() async throws {
        try await IrisLabelCommands.bench(try common.settings(), photos: photos)
    }
}
