import ArgumentParser
import Foundation
import IrisCommands

struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find images by plain words: the classes the models saw (through WordNet), labels, and text in them.",
        discussion:
            "Ranks as GET /api/v1/search does, over every project (or --project), and prints each image's score and why it matched."
    )
    @OptionGroup var common: CommonOptions
    @Argument(help: "The words to search for, e.g. \"musical instrument\".") var query: String
    @Option(help: "Only this project (its name or id).") var project: String?
    @Option(help: "How many to print (1 to 1000).") var limit = 20
    @Flag(help: "Also print how long the sentence model took (its classes, then the query).") var timings = false

    func run() async throws {
        try await IrisSearchCommands.search(
            try common.settings(), query: query, project: project, limit: limit, verbose: timings)
    }
}
