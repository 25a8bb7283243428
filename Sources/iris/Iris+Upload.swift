import ArgumentParser
import Foundation
import IrisClient
import IrisCommands

struct UploadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload folders, photos and zips to a project on an Iris server, from any machine.",
        discussion: """
            Asks the server which photos it has already (by SHA-256) and sends the others, several at \
            a time, with a progress bar. Running the same command again resumes: what was sent is \
            only confirmed. A server that cannot be reached is tried again with backoff for \
            --retry-for seconds. Ends with a summary; exits 1 when a photo was refused or left unsent.
            """)
    @Argument(help: "Folders (walked, hidden files skipped), image files and zips.") var paths: [String]
    @Option(help: "The server, e.g. http://photos.example.org:8080.") var server: String
    @Option(help: "The project: its id or its exact name.") var project: String
    @Option(help: "An API token (or IRIS_TOKEN).") var token: String?
    @Option(help: "A label for every photo (repeatable).") var label: [String] = []
    @Flag(help: "Label each photo with the name of the folder it is in.") var labelFromFolders = false
    @Option(help: "Photos sent at once (1 to 32).") var concurrency = 4
    @Option(help: "Where the upload's journal is kept (default ~/.cache/iris/uploads/<this upload>).")
    var state: String?
    @Option(help: "Seconds to keep trying while the server cannot be reached.") var retryFor: Double = 300

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("name at least one folder, file or zip") }
        guard let url = URL(string: server), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw ValidationError("--server must be an http:// or https:// address, not \(server)")
        }
        guard (1...32).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 32") }
        guard (token ?? ProcessInfo.processInfo.environment["IRIS_TOKEN"]) != nil else {
            throw ValidationError("give an API token with --token or IRIS_TOKEN")
        }
        guard retryFor >= 0 else { throw ValidationError("--retry-for must be 0 or more") }
    }

    func run() async throws {
        let options = IrisUpload.Options(
            paths: paths, server: URL(string: server)!,
            token: token ?? ProcessInfo.processInfo.environment["IRIS_TOKEN"] ?? "", project: project,
            labels: label, labelFromFolders: labelFromFolders, concurrency: concurrency,
            state: state.map { URL(fileURLWithPath: $0) }, retryFor: retryFor)
        let summary: IrisUpload.Summary
        do {
            summary = try await IrisUpload.run(options)
        } catch let error as IrisClientError {
            throw ValidationError(error.description)
        }
        print(
            "\(summary.uploaded) uploaded, \(summary.alreadyThere) already there, \(summary.refused.count) refused"
                + (summary.waiting > 0 ? ", \(summary.waiting) not sent (the server could not be reached)" : "")
                + (summary.earlier > 0 ? "; \(summary.earlier) done by an earlier run" : "")
                + String(format: " in %.1f s", summary.seconds))
        for (name, reason) in summary.refused.prefix(50) { print("  refused \(name): \(reason)") }
        if summary.refused.count > 50 { print("  … and \(summary.refused.count - 50) more refused") }
        if !summary.notImages.isEmpty {
            print("\(summary.notImages.count) files skipped: not images by their names (e.g. \(summary.notImages[0]))")
        }
        if !summary.refused.isEmpty || summary.waiting > 0 { throw ExitCode(1) }
    }
}
