import Foundation
import IrisBenchmarks
import IrisCore
import IrisML
public import IrisServices
import IrisStore

/// `iris search "words" [--project P]`: the same ranking as `GET /api/v1/search`, over the
/// data folder and database directly (as an administrator sees them: every project, flagged
/// images included).
public enum IrisSearchCommands {
    /// `iris search bench`: the vector index at scale (`SearchBenchmark`, in IrisBenchmarks).
    public static func bench(
        _ settings: IrisSettings, model: String, vectors: Int, queries: Int, lists: Int, threads: Int, out: String?
    ) async throws {
        do {
            try await SearchBenchmark.run(
                settings, model: model, vectors: vectors, queries: queries, lists: lists, threads: threads, out: out)
        } catch let refusal as Refusal {
            throw CommandFailure(message: refusal.detail)
        }
    }

    /// Which kinds of evidence `--using` names: a comma-separated list of words, labels, text,
    /// meaning, vision and hierarchy.
    public static func parts(_ list: String?) throws -> TextSearch.Parts {
        guard let list else { return .all }
        var parts: TextSearch.Parts = []
        for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            guard let part = TextSearch.Parts.names.first(where: { $0.0 == name })?.1 else {
                throw CommandFailure(
                    message: "--using takes \(TextSearch.Parts.names.map(\.0).joined(separator: ", ")), not \"\(name)\""
                )
            }
            parts.insert(part)
        }
        guard !parts.isEmpty else { throw CommandFailure(message: "--using needs at least one kind of evidence") }
        return parts
    }

    public static func search(
        _ settings: IrisSettings, query: String?, queries: String? = nil, project: String?, limit: Int,
        using: String? = nil, json: Bool = false, verbose: Bool
    ) async throws {
        let parts = try parts(using)
        var texts: [String] = []
        if let queries {
            guard let contents = try? String(contentsOfFile: queries, encoding: .utf8) else {
                throw CommandFailure(message: "cannot read the queries file \(queries)")
            }
            texts = contents.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            guard query == nil else { throw CommandFailure(message: "give either a query or --queries, not both") }
        } else if let query {
            texts = [query.trimmingCharacters(in: .whitespacesAndNewlines)]
        }
        guard !texts.isEmpty, !texts.contains(where: \.isEmpty) else {
            throw CommandFailure(message: "give the words to search for")
        }
        guard !texts.contains(where: { $0.count > TextQuery.maxLength }) else {
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
            let semantic = parts.contains(.meaning) ? try? SemanticClasses.load(settings) : nil
            if let semantic, verbose {
                let started = Date()
                _ = try semantic.encoder.embed(texts[0] + " ")
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
                }, semantic: { semantic },
                // The photos' embeddings, as the server holds them (the hierarchy and vision evidence).
                indexes: EmbeddingIndexes(store: dependencies.store, logger: logger))
            for text in texts {
                let answer: TextSearch.Answer
                do {
                    answer = try await search.search(text, in: scope, seesFlagged: nil, using: parts)
                } catch let missing as WordNet.Missing {
                    throw CommandFailure(message: missing.description)
                }
                if json { printJSON(text, answer, limit: limit) } else { printText(answer, limit: limit) }
            }
            await dependencies.close()
        } catch {
            await dependencies.close()
            if let message = CommandFailure.message(for: error) { throw CommandFailure(message: message) }
            throw error
        }
    }

    /// One line of JSON per query: `{"query", "hits": [{"sha256", "score", "reasons"}]}`.
    static func printJSON(_ text: String, _ answer: TextSearch.Answer, limit: Int) {
        let hits = answer.hits.prefix(limit).map { hit -> [String: Any] in
            [
                "sha256": hit.sha256, "project_id": hit.projectID, "score": hit.score,
                "reasons": hit.reasons.map { ["kind": $0.kind.rawValue, "matched": $0.matched, "score": $0.score] },
            ]
        }
        let line: [String: Any] = ["query": text, "hits": hits, "total": answer.hits.count]
        if let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) {
            print(String(decoding: data, as: UTF8.self))
        }
    }

    static func printText(_ answer: TextSearch.Answer, limit: Int) {
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
                case .visionLanguage: "looks like it to \(reason.matched) \(Int(reason.score * 100))%"
                }
            }
            print(
                String(format: "%.3f  %@  project %lld  ", hit.score, hit.sha256, hit.projectID)
                    + why.joined(separator: "; "))
        }
        if answer.hits.count > limit { print("… and \(answer.hits.count - limit) more (--limit)") }
    }
}
