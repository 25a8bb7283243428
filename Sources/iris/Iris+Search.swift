import ArgumentParser
import Foundation
import IrisCommands

struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find images by plain words: the classes the models saw (through WordNet), labels, and text in them.",
        discussion: """
            Ranks as GET /api/v1/search does, over every project (or --project), and prints each image's score and why it \
            matched. Usage: iris search "WORDS" [--project P] [--limit N] [--using KINDS] [--queries FILE] [--json] \
            [--timings]; `iris search query --help` explains each option.
            """,
        subcommands: [SearchQueryCommand.self, Bench.self], defaultSubcommand: SearchQueryCommand.self)

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Measure the vector index on synthetic vectors shaped like the data folder's real embeddings (for make bench).",
            shouldDisplay: false)
        @OptionGroup var common: CommonOptions
        @Option(help: "The model whose embeddings the synthetic ones imitate.") var model = "mobilenet-v2"
        @Option(help: "How many vectors to index.") var vectors = 1_000_000
        @Option(help: "How many queries to time.") var queries = 200
        @Option(help: "Lists of the clustered (IVF) index.") var lists = 256
        @Option(help: "Threads for exact search and clustering.") var threads = 2
        @Option(help: "A folder to write vectors.f32, queries.f32 and exact.txt to (for FAISS).") var out: String?

        func run() async throws {
            try await IrisSearchCommands.bench(
                try common.settings(), model: model, vectors: vectors, queries: queries, lists: lists, threads: threads,
                out: out)
        }
    }
}

struct SearchQueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Find images by plain words (the default: `iris search \"words\"`).")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The words to search for, e.g. \"musical instrument\".") var query: String?
    @Option(help: "A file of queries, one per line, searched one after another (instead of a query).")
    var queries: String?
    @Option(help: "Only this project (its name or id).") var project: String?
    @Option(help: "How many to print (1 to 1000).") var limit = 20
    @Option(
        help:
            "Only these kinds of evidence, comma-separated: words (model labels beneath the words in WordNet), labels (human and learner labels), text (read in the image), meaning (the sentence model), vision (the photos themselves, by a vision–language pair such as CLIP). Default: all."
    ) var using: String?
    @Flag(help: "Print one line of JSON per query (query, hits with score and reasons, total).") var json = false
    @Flag(help: "Also print how long the sentence model took (its classes, then the query).") var timings = false

    func run() async throws {
        try await IrisSearchCommands.search(
            try common.settings(), query: query, queries: queries, project: project, limit: limit, using: using,
            json: json, verbose: timings)
    }
}
