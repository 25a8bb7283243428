import ArgumentParser
import Foundation
import IrisCommands
import IrisServer
import IrisServices

struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "The models in the models folder and the registered remote models.",
        subcommands: [List.self, Register.self, Remove.self, Bench.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "List every model (folder and registered remote ones), its tasks, and why it cannot be used (exit status 1 when one cannot)."
        )
        @OptionGroup var common: CommonOptions

        func run() async throws {
            if try await !IrisModelCommands.list(try common.settings()) { throw ExitCode(1) }
        }
    }
}

extension ModelsCommand {
    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Register a remote model (Open Inference Protocol v2) from its manifest file; its URL's origin must be in models.remote_allow."
        )
        @OptionGroup var common: CommonOptions
        @Argument(help: "The manifest: JSON with `remote` and the labels as a list (docs/MODELS.md).") var manifest:
            String

        func run() async throws {
            try await IrisModelCommands.register(try common.settings(), manifestFile: manifest)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a registered remote model (the results it gave stay).")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The model's name.") var name: String

        func run() async throws {
            try await IrisModelCommands.remove(try common.settings(), name: name)
        }
    }
}

extension ModelsCommand {
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Classify + embed throughput: Iris end to end against bare ONNX Runtime (run by make bench).",
            shouldDisplay: false)
        @OptionGroup var common: CommonOptions
        @Option(help: "Passes over the files.") var rounds = 5
        @Option(help: "Analyses at once (like ml workers).") var concurrency = 2
        @Argument(help: "Image files.") var files: [String]

        func run() async throws {
            try await IrisModelCommands.bench(
                try common.settings(), files: files, rounds: rounds, concurrency: concurrency)
        }
    }
}

struct AnalyzeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract:
            "Run models on image files and print what they say: locally (no server needed), or through a running Iris with --server."
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "Comma-separated model names (see `iris models list`).") var models = "mobilenet-v2"
    @Flag(help: "Print JSON (with whole embeddings) instead of text.") var json = false
    @Option(
        help: "A running Iris (e.g. http://127.0.0.1:8080): the files are uploaded into --project and analysed there.")
    var server: String?
    @Option(help: "With --server: the project the files are stored in (contributor role needed).") var project: Int64?
    @Option(help: "With --server: an API token (or IRIS_TOKEN).") var token: String?
    @Option(help: "With --server: seconds to wait for the results.") var wait: Double = 300
    @Argument(help: "Image files.") var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one image file") }
        for file in files where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("cannot read \(file)")
        }
        if server != nil {
            if project == nil {
                throw ValidationError("--server needs --project: uploaded files are stored in a project")
            }
            if (token ?? ProcessInfo.processInfo.environment["IRIS_TOKEN"]) == nil {
                throw ValidationError("--server needs --token or IRIS_TOKEN")
            }
        } else if project != nil || token != nil {
            throw ValidationError("--project and --token go with --server")
        }
    }

    func run() async throws {
        let names = models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if let server, let project {
            let client = IrisAnalyzeClient(
                server: server, token: token ?? ProcessInfo.processInfo.environment["IRIS_TOKEN"] ?? "",
                project: project, timeout: wait)
            if !(try await client.run(files: files, models: names, json: json)) { throw ExitCode(1) }
            return
        }
        if !(try await IrisModelCommands.analyze(try common.settings(), files: files, models: names, json: json)) {
            throw ExitCode(1)
        }
    }
}
