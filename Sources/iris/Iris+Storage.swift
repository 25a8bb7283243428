import ArgumentParser
import Foundation
import IrisCommands

struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Move the blobs between the data folder and an S3 bucket, and check them against the database.",
        subcommands: [Migrate.self, Verify.self])

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy every blob to the other store, check each by SHA-256 there, then switch storage.backend.",
            discussion:
                "Resumable: stop it (Ctrl-C) and run it again to go on where it was. Run it while no iris serve or worker writes; with a config file (--config or IRIS_CONFIG) its storage.backend is switched at the end, else the command says what to set."
        )
        @OptionGroup var common: CommonOptions
        @Option(help: "s3 or disk.") var to: String

        func run() async throws {
            try await IrisStorageCommands.migrate(
                try common.settings(), to: to,
                configPath: common.config ?? ProcessInfo.processInfo.environment["IRIS_CONFIG"])
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every image row has its original and every blob a row; exit 1 when a row lacks its blob.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            if !(try await IrisStorageCommands.verify(try common.settings())) { throw ExitCode(1) }
        }
    }
}
