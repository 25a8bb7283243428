import Foundation
import IrisCore
import IrisML
public import IrisServices
import IrisStore

/// `iris search "words" [--project P]`: the same ranking as `GET /api/v1/search`, over the
/// data folder and database directly (as an administrator sees them: every project, flagged
/// images included).
public enum IrisSearchCommands {
    public static func search(_ settings: IrisSettings, query: String, project: String?, limit: Int, verbose: Bool)
        async throws
    {
        let text = query.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw CommandFailure(message: "give the words to search for") }
        guard text.count <= TextQuery.maxLength else {
            throw CommandFailure(message: "the query must be at most \(TextQuery.maxLength) characters")
        }
        guard (1...1000).contains(limit) else { throw CommandFailure(message: "--limit must be from 1 to 1000") }
        let logger = settings.makeLogger()
        let dependencies = try await IrisDependencies.open(settings, logger: logger)
        do {
            var scope: Set<Int64>?
            if let project {
                let found =
                    if let id = Int64(project) { try await dependencies.store.projects.find(id: id) } else {
                        try await dependencies.store.projects.find(name: project)
                    }
                guard let found else { throw CommandFailure(message: "no project is named or numbered \(project)") }
                scope = [found.id]
            }
            // Loaded first, so its cost and the query's are reported apart.
            let semantic = try? SemanticClasses.load(settings)
            if let semantic, verbose {
                let started = Date()
                _ = try semantic.encoder.embed(text + " ")
                FileHandle.standardError.write(
                    Data(
                        String(
                            format: "sentence model: %d class descriptions embedded in %.2f s; the query in %.1f ms\n",
                            semantic.vectors.count, semantic.seconds, Date().timeIntervalSince(started) * 1000
                        ).utf8))
            }
            let search = TextSearch(
                store: dependencies.store, models: settings.models.registry(logger: logger),
                moderationThreshold: settings.models.moderationThreshold,
                vocabulary: {
                    try SearchVocabulary.load(wordnet: settings.wordnetDirectory, models: settings.models.folder)
                })
            let answer: TextSearch.Answer
            do {
                answer = try await search.search(text, in: scope, seesFlagged: nil)
            } catch let missing as WordNet.Missing {
                throw CommandFailure(message: missing.description)
            }
            let terms = answer.terms.map { $0.synsets.isEmpty ? $0.text : "\($0.text) (WordNet)" }
            print("Terms: \(terms.isEmpty ? "none (only filler words)" : terms.joined(separator: ", "))")
            if answer.hits.isEmpty { print("No image matches.") }
            for hit in answer.hits.prefix(limit) {
                let why = hit.reasons.map { reason -> String in
                    switch reason.kind {
                    case .modelLabel:
                        "\(reason.term): model label \"\(reason.matched)\" \(Int(reason.score * 100))% (\(reason.path.joined(separator: " ⊂ ")))"
                    case .label: "\(reason.term): label \"\(reason.matched)\""
                    case .text: "\(reason.term): text \"\(reason.matched.prefix(80))\""
                    case .meaning: "means \"\(reason.matched)\" \(Int(reason.score * 100))%"
                    }
                }
                print(
                    String(format: "%.3f  %@  project %lld  ", hit.score, hit.sha256, hit.projectID)
                        + why.joined(separator: "; "))
            }
            if answer.hits.count > limit { print("… and \(answer.hits.count - limit) more (--limit)") }
            await dependencies.close()
        } catch {
            await dependencies.close()
            if let message = CommandFailure.message(for: error) { throw CommandFailure(message: message) }
            throw error
        }
    }
}
