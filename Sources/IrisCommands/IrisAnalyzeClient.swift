import AsyncHTTPClient
import Foundation
import IrisCore
import IrisML
import IrisServer
import IrisServices
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// `iris analyze --server URL --project ID`: sends local files to a running Iris through the
/// photo-analysis API (they are stored in the project, as uploads), waits for every
/// (image, model) job and prints the results as the local mode does.
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

    struct Created: Decodable {
        var items: [Item]
        struct Item: Decodable {
            var file: String?
            var sha256: String?
            var jobs: [String: Int64]?
            var error: ItemError?
        }
        struct ItemError: Decodable {
            var status: Int
            var detail: String
        }
    }

    struct Status: Codable {
        var sha256: String
        var models: [String: ModelStatus]
    }

    struct ModelStatus: Codable {
        var state: String
        var error: String?
        var result: Result?
        var finished: Bool { ["succeeded", "failed", "dead", "cancelled"].contains(state) }
    }

    struct Result: Codable {
        var labels: [ScoredLabel]?
        var moderation: Double?
        var text: [TextLine]?
        var embedding: Embedding?
        struct Embedding: Codable {
            var dimension: Int
            var url: String
        }
    }

    struct ProblemBody: Decodable {
        var detail: String?
        var title: String?
    }

    /// Answers whether every file was analysed by every model.
    public func run(files: [String], models: [String], json: Bool) async throws -> Bool {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let result = try await analyse(client, files: files, models: models, json: json)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func analyse(_ client: HTTPClient, files: [String], models: [String], json: Bool) async throws -> Bool {
        let boundary = "iris-\(UUID().uuidString)"
        var body = Data()
        func field(_ name: String, _ value: String) {
            body.append(
                Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
        }
        field("models", models.joined(separator: ","))
        field("project_id", String(project))
        for file in files {
            let name = URL(fileURLWithPath: file).lastPathComponent.replacingOccurrences(of: "\"", with: "_")
            body.append(
                Data(
                    "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                        .utf8))
            body.append(try Data(contentsOf: URL(fileURLWithPath: file)))
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        var request = HTTPClientRequest(url: server + "/api/v1/analyses")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        request.body = .bytes(ByteBuffer(data: body))
        let created: Created = try await send(client, request)

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
        var report: [String: Status] = [:]
        let deadline = ContinuousClock.now + .seconds(timeout)
        for (file, sha256) in pending {
            while true {
                let status: Status = try await send(
                    client, HTTPClientRequest(url: server + "/api/v1/analyses/\(sha256)"))
                let done = models.allSatisfy { status.models[$0]?.finished ?? false }
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
                guard let model = status.models[name] else { continue }
                if model.state != "succeeded" {
                    allGood = false
                    FileHandle.standardError.write(
                        Data("\(file): \(name): \(model.state)\(model.error.map { ": \($0)" } ?? "")\n".utf8))
                }
            }
            guard !json else { continue }
            print("\(file) (\(status.sha256))")
            for name in models {
                guard let result = status.models[name]?.result else { continue }
                IrisModelCommands.printResult(
                    model: name, labels: result.labels,
                    embedding: result.embedding.map { "of \($0.dimension) at \(server)\($0.url)" },
                    moderation: result.moderation, text: result.text)
            }
        }
        if json { try IrisModelCommands.printJSON(report) }
        return allGood
    }

    private func send<T: Decodable>(_ client: HTTPClient, _ request: HTTPClientRequest) async throws -> T {
        var request = request
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(60))
        } catch {
            throw CommandFailure(message: "cannot reach \(server): \(error)")
        }
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let data = Data(buffer: bytes)
        guard (200..<300).contains(Int(response.status.code)) else {
            let problem = try? JSONDecoder().decode(ProblemBody.self, from: data)
            throw CommandFailure(
                message:
                    "\(server) answered \(response.status.code): \(problem?.detail ?? problem?.title ?? String(decoding: data.prefix(300), as: UTF8.self))"
            )
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw CommandFailure(message: "\(server) answered something that is not Iris's JSON: \(error)")
        }
    }
}
