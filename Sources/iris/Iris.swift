import ArgumentParser
import Foundation
import IrisCommands
import IrisCore
import IrisServer
import IrisServices

/// `iris`: one binary for the server and its tools. Subcommands only parse and delegate.
@main
struct Iris: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iris",
        abstract: "Iris, the self-hosted image intelligence platform.",
        discussion:
            "Settings come from flags, then IRIS_* environment variables, then a JSON config file (--config or IRIS_CONFIG), then defaults. `iris config` lists them.",
        version: "0.1.0",
        subcommands: [
            Serve.self, WorkerCommand.self, Migrate.self, Import.self, JobsCommand.self, ModelsCommand.self,
            AnalyzeCommand.self, LearnCommand.self, TrainCommand.self, EvaluateCommand.self, UserCommand.self,
            TokenCommand.self, RepairCommand.self, StorageCommand.self, SearchCommand.self, UploadCommand.self,
            ExportCommand.self, LabelBenchCommand.self, MapBenchProjectCommand.self,
            Config.self,
        ]
    )
}

/// Options every command that touches the data shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "JSON config file (also IRIS_CONFIG).")
    var config: String?

    @Option(help: "Data folder for the SQLite database, blobs and temporary files (data.dir).")
    var data: String?

    @Option(help: "Database URL: sqlite:///path or postgres://user@host/db (db.url).")
    var database: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (log.level).")
    var logLevel: String?

    /// Flags as configuration keys; only the ones given.
    func flags(_ extra: [ConfigurationKey: String?] = [:]) -> [String: String] {
        var flags: [String: String] = [:]
        let given: [ConfigurationKey: String?] = [.dataDirectory: data, .databaseURL: database, .logLevel: logLevel]
        for (key, value) in given.merging(extra, uniquingKeysWith: { $1 }) {
            if let value { flags[key.name] = value }
        }
        return flags
    }

    func settings(_ extra: [ConfigurationKey: String?] = [:]) throws -> IrisSettings {
        do {
            let reader = try ConfigurationReader.load(
                flags: flags(extra), configPath: config, environment: ProcessInfo.processInfo.environment)
            return try IrisSettings(reader)
        } catch {
            guard let message = CommandFailure.message(for: error) else { throw error }
            throw ValidationError(message)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the web UI and /api/v1 until SIGTERM or SIGINT.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Address to listen on (http.host).")
    var host: String?

    @Option(help: "Port to listen on (http.port).")
    var port: Int?

    @Flag(help: "Demo mode: everything works, but nothing uploaded is kept (mode=demo).")
    var demo = false

    @Flag(help: "Read-only mode: every write is refused with 503 (mode=read-only).")
    var readOnly = false

    func validate() throws {
        if demo && readOnly { throw ValidationError("choose --demo or --read-only, not both") }
    }

    func run() async throws {
        let mode: String? = demo ? "demo" : (readOnly ? "read-only" : nil)
        let settings = try common.settings([.httpHost: host, .httpPort: port.map(String.init), .mode: mode])
        try await IrisCommands.serve(settings)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or update the database schema, then exit.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await IrisCommands.migrate(try common.settings())
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a folder or zip of images into a project (created if missing; local, no server needed).",
        discussion: """
            Reads the layouts `iris export` writes: imagefolder (one sub-folder per class, e.g. \
            cats/1.jpg), yolo (train/<class>/…, val/…, test/…), csv (path,label[,label…] rows, or \
            Iris's labels.csv), coco (annotations .json with its images) and labelstudio (a JSON \
            export of tasks with choices). The format is read from the contents unless --format \
            names it; folder names give labels with --label-from-folders or --format imagefolder|yolo. \
            Labels outside the project's label set are refused unless --create-labels. Files that \
            are not acceptable images are skipped and listed (docs/IMPORTS.md).
            """
    )

    @OptionGroup var common: CommonOptions

    @Argument(help: "A folder or a .zip file.")
    var path: String

    @Option(help: "Name of the project to import into.")
    var project: String

    @Flag(help: "Label each image with the name of the folder it is in.")
    var labelFromFolders = false

    @Option(help: "imagefolder, yolo, csv, coco or labelstudio (default: read from the contents).")
    var format: String?

    @Flag(help: "Add labels the project's label set lacks instead of refusing the import.")
    var createLabels = false

    func run() async throws {
        try await IrisCommands.importImages(
            try common.settings(), path: path, projectName: project, labelFromFolders: labelFromFolders,
            format: format, createLabels: createLabels)
    }
}

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every setting with its environment variable, default and meaning.")

    @Flag(help: "Print a Markdown table (as in the README).")
    var markdown = false

    @Flag(help: "Print the value each setting has here (flags, environment, config file, default); secrets masked.")
    var values = false

    @OptionGroup var common: CommonOptions

    func run() throws {
        if values {
            let reader = try ConfigurationReader.load(
                flags: common.flags(), configPath: common.config, environment: ProcessInfo.processInfo.environment)
            print(IrisCommands.settingValues(reader))
        } else {
            print(IrisCommands.settingsTable(markdown: markdown))
        }
    }
}
