import ArgumentParser
import Foundation
import IrisServer

struct LearnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learn", abstract: "A project's incremental learner: add classes, classify.", subcommands: [Quality.self])

    struct Quality: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "k-shot accuracy, trained head and unknown rejection on an ImageFolder of labelled photos (run by make bench).",
            shouldDisplay: false)
        @OptionGroup var common: CommonOptions
        @Flag(help: "Print JSON.") var json = false
        @Argument(help: "A folder with one sub-folder of photos per class.") var folder = ".cache/evalset"

        func run() async throws {
            try await IrisModelCommands.learningQuality(try common.settings(), folder: folder, json: json)
        }
    }
}
