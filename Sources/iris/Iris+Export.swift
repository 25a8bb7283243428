import ArgumentParser
import IrisCommands

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a project's labelled images as a zip for a trainer (local; no server needed).",
        discussion: """
            Formats: imagefolder (a folder per class; with --split, under train/ val/ test/), yolo \
            (Ultralytics classification: train/ val/ test/ of class folders), csv (images/ and \
            labels.csv), coco (images/ and annotations.json), labelstudio (images/ and tasks.json). \
            Splits are stratified by class and the same every time (docs/EXPORTS.md). Every format \
            imports back with `iris import FILE` (--label-from-folders for imagefolder and yolo).
            """)
    @OptionGroup var common: CommonOptions
    @Option(help: "The project: its name or id.") var project: String
    @Option(help: "imagefolder, yolo, csv, coco or labelstudio.") var format: String
    @Option(help: "The zip to write.") var out: String
    @Flag(help: "Split into train (70 %), val (15 %) and test (15 %), stratified by class.") var split = false
    @Flag(inversion: .prefixedNo, help: "Take labels people gave.") var human = true
    @Flag(inversion: .prefixedNo, help: "Take labels the project's learner gave.") var learner = true
    @Option(help: "Also take the classification model's top label when at least this confident (0 to 1).")
    var modelConfidence: Double?

    func run() async throws {
        try await IrisExportCommands.export(
            try common.settings(), project: project, format: format, out: out, split: split, human: human,
            learner: learner, modelConfidence: modelConfidence)
    }
}
