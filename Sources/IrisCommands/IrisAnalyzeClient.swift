import Foundation
import IrisClient
import IrisCore
import IrisML

/// `iris analyze --server URL --project ID`: sends local files to a running Iris through the
/// photo-analysis API with `IrisClient` (they are stored in the project, as uploads), waits
/// for every (image, model) job and prints the results as the local mode does.
public struct IrisAnalyzeClient: Sendable {
    public var server: String
    public var token: String
    public var project: Int64
    /// How long to wait for the jobs, in seconds.
    public var timeout: Double

    public init(server: String, token: String, project: Int64, timeout: Double) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
        self.project = project
        self.timeout = timeout
    }

    /// Answers whether every file was analysed by every model.
    public func run(files: [String], models: [String], json: Bool) async throws -> Bool {
        guard let url = URL(string: server), url.scheme == "http" || url.scheme == "https" else {
            throw CommandFailure(message: "--server must be an http or https address, not \(server)")
        }
        let client = try IrisClient(server: url, token: token)
        do {
            return try await analyse(client, files: files, models: models, json: json)
        } catch let error as IrisClientError {
            throw CommandFailure(message: "\(server): \(error)")
        }
    }

    private func analyse(_ client: IrisClient, files: [String], models: [String], json: Bool) async throws -> Bool {
        let sent = try files.map { file in
            let url = URL(fileURLWithPath: file)
            do {
                return (name: url.lastPathComponent, data: try Data(contentsOf: url))
            } catch {
                throw CommandFailure(message: "cannot read \(file)")
            }
        }
        let created = try await client.analyse(sent, models: models, in: Int(project))
        var allGood = true
        var pending: [(file: String, sha256: String)] = []
        for (index, item) in created.items.enumerated() {
            let file = index < files.count ? files[index] : (item.file ?? "?")
            if let error = item.error {
                allGood = false
                FileHandle.standardError.write(Data("\(file): refused (\(error.status)): \(error.detail)\n".utf8))
            } else if let sha256 = item.sha256 {
                pending.append((file, sha256))
            }
        }
        var report: [String: IrisClient.Analyses] = [:]
        let deadline = ContinuousClock.now + .seconds(timeout)
        for (file, sha256) in pending {
            while true {
                let status = try await client.analyses(of: sha256)
                let done = models.allSatisfy { name in
                    status.models.additionalProperties[name].map { ![.queued, .running].contains($0.state) } ?? false
                }
                if done || ContinuousClock.now > deadline {
                    report[file] = status
                    break
                }
                try await Task.sleep(for: .milliseconds(300))
            }
        }
        for (file, _) in pending {
            guard let status = report[file] else { continue }
            for name in models {
                guard let model = status.models.additionalProperties[name] else { continue }
                if model.state != .succeeded {
                    allGood = false
                    FileHandle.standardError.write(
                        Data("\(file): \(name): \(model.state.rawValue)\(model.error.map { ": \($0)" } ?? "")\n".utf8))
                }
            }
            guard !json else { continue }
            print("\(file) (\(status.sha256))")
            for name in models {
                guard let result = status.models.additionalProperties[name]?.result else { continue }
                IrisModelCommands.printResult(
                    model: name, labels: result.labels?.map { ScoredLabel(label: $0.label, score: $0.score) },
                    embedding: result.embedding.map { "of \($0.dimension) at \(server)\($0.url)" },
                    moderation: result.moderation,
                    text: result.text?.map {
                        TextLine(
                            text: $0.text, confidence: $0.confidence,
                            box: .init(x: $0.box.x, y: $0.box.y, width: $0.box.width, height: $0.box.height))
                    })
            }
        }
        if json { try IrisModelCommands.printJSON(report) }
        return allGood
    }
}
