import ArgumentParser
import Foundation
import IrisCommands
import IrisServer
import IrisServices

struct LearnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learn",
        abstract: "A project's incremental learner: add classes, classify (local; no server needed).",
        subcommands: [
            AddClass.self, Classify.self, Quality.self, FeatureStudy.self, LabelQuality.self, MapBench.self, Bench.self,
        ])

    struct AddClass: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-class",
            abstract:
                "Store a zip or folder of images in the project (made if new), labelled with the class name, and teach the learner the class."
        )
        @OptionGroup var common: CommonOptions
        @Option(help: "Project name or id.") var project: String
        @Option(help: "The class's name.") var name: String
        @Argument(help: "A zip file or a folder of images.") var path: String

        func run() async throws {
            try await IrisLearnCommands.addClass(try common.settings(), project: project, name: name, path: path)
        }
    }

    struct Classify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Classify local image files with the project's learner: the nearest classes, or unknown (exit status 1 if a file cannot be read)."
        )
        @OptionGroup var common: CommonOptions
        @Option(help: "Project name or id.") var project: String
        @Argument(help: "Image files.") var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("name at least one image file") }
        }

        func run() async throws {
            if !(try await IrisLearnCommands.classify(try common.settings(), project: project, files: files)) {
                throw ExitCode(1)
            }
        }
    }

    struct Quality: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "k-shot accuracy, trained head and unknown rejection on an ImageFolder of labelled photos (run by make bench).",
            shouldDisplay: false)
        @OptionGroup var common: CommonOptions
        @Flag(help: "Print JSON.") var json = false
        @Option(help: "The embedding model (default: learner.model).") var model: String?
        @Flag(help: "Fit the confidence calibration on other random splits and print its coefficients.")
        var fitCalibration = false
        @Argument(help: "A folder with one sub-folder of photos per class.") var folder = ".cache/evalset"

        func run() async throws {
            try await IrisModelCommands.learningQuality(
                try common.settings(), folder: folder, model: model, json: json, fitCalibration: fitCalibration)
        }
    }
}

extension LearnCommand {
    struct FeatureStudy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "feature-study",
            abstract:
                "Which features the learner should compare photos by: embeddings, WordNet-hierarchy features and their combinations, on ImageFolders of labelled photos (run by make bench).",
            shouldDisplay: false)
        @OptionGroup var common: CommonOptions
        @Option(help: "Seeded random splits per figure.") var trials = 20
        @Argument(help: "Folders with one sub-folder of photos per class.") var folders: [String] = [".cache/evalset"]

        func run() async throws {
            try await IrisModelCommands.featureStudy(try common.settings(), folders: folders, trials: trials)
        }
    }

    struct LabelQuality: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "label-quality",
            abstract:
                "Wrong-label detection on randomly flipped labels, label-next curves against random order and the learning curve (accuracy per photos per class), on an ImageFolder of labelled photos (run by make bench).",
            shouldDisplay: false)
        @OptionGroup var common: CommonOptions
        @Option(help: "The embedding model (default: learner.model).") var model: String?
        @Argument(help: "A folder with one sub-folder of photos per class.") var folder = ".cache/evalset"

        func run() async throws {
            try await IrisModelCommands.labelQuality(try common.settings(), folder: folder, model: model)
        }
    }

    struct MapBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "map-bench",
            abstract:
                "Speed of the map layout on synthetic embeddings, and its neighbour preservation against PCA's (run by make bench).",
            shouldDisplay: false)
        @OptionGroup var common: CommonOptions
        @Option(help: "Synthetic points to lay out.") var points = 50_000
        @Option(help: "The embedding model (default: learner.model).") var model: String?
        @Argument(help: "A folder with one sub-folder of photos per class.") var folder = ".cache/evalset"

        func run() async throws {
            try await IrisModelCommands.mapBench(try common.settings(), folder: folder, points: points, model: model)
        }
    }

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Speed: adding a 100-image class, classifying against 1,000 classes, training on 10,000 × 50 (run by make bench).",
            shouldDisplay: false)
        @OptionGroup var common: CommonOptions
        @Argument(help: "A folder with sub-folders of photos.") var folder = ".cache/evalset"

        func run() async throws {
            try await IrisModelCommands.learningBench(try common.settings(), folder: folder)
        }
    }
}

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a new classifier version on the project's human-labelled images (local; no server needed).")
    @OptionGroup var common: CommonOptions
    @Option(help: "Project name or id.") var project: String
    @Flag(help: "Make the new version active: its predictions become model labels.") var activate = false

    func run() async throws {
        try await IrisLearnCommands.train(try common.settings(), project: project, activate: activate)
    }
}

struct EvaluateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract:
            "Test the learner or a classifier version and keep the run in the project's history (local; no server needed)."
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "Project name or id.") var project: String
    @Option(help: "learner or classifier.") var target = "learner"
    @Option(help: "Classifier version (default: the active one, else the newest).") var version: Int?
    @Option(help: "held-out (the fifth of labelled images no head trains on) or all.") var split = "held-out"

    func run() async throws {
        try await IrisLearnCommands.evaluate(
            try common.settings(), project: project, target: target, version: version, split: split)
    }
}
