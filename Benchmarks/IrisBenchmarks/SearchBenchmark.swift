import Foundation
import IrisCore
public import IrisServices
import IrisStore

/// `iris search bench` (through `IrisCommands.searchBench`): the vector index at scale, on synthetic vectors shaped like a data
/// folder's real embeddings. Exact search, then the clustered (IVF) index at several numbers
/// of lists probed, each with latency percentiles and recall@10 against exact search; the
/// vectors and queries are written out so that FAISS can be run on the very same ones.
public enum SearchBenchmark {
    /// A deterministic generator (PCG-style LCG), so a run can be repeated.
    struct Numbers {
        var state: UInt64
        mutating func uniform() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) + 0.5) / Float(1 << 24)
        }
        mutating func index(_ bound: Int) -> Int { min(bound - 1, Int(uniform() * Float(bound))) }
        /// A standard normal draw (Box–Muller).
        mutating func normal() -> Float {
            let (u, v) = (uniform(), uniform())
            return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * .pi * v)
        }
    }

    /// Vectors like the real ones: a random blend of two real embeddings plus Gaussian noise of
    /// half each dimension's spread, clipped at zero as a ReLU network's pooled features are.
    static func synthesize(count: Int, from real: [[Float]], seed: UInt64) -> [Float] {
        let dimension = real[0].count
        var mean = [Float](repeating: 0, count: dimension)
        for vector in real { for index in 0..<dimension { mean[index] += vector[index] / Float(real.count) } }
        var spread = [Float](repeating: 0, count: dimension)
        for vector in real {
            for index in 0..<dimension {
                let d = vector[index] - mean[index]
                spread[index] += d * d / Float(real.count)
            }
        }
        spread = spread.map { $0.squareRoot() * 0.5 }
        var numbers = Numbers(state: seed)
        var out = [Float](repeating: 0, count: count * dimension)
        for row in 0..<count {
            let (a, b) = (real[numbers.index(real.count)], real[numbers.index(real.count)])
            let mix = numbers.uniform()
            for index in 0..<dimension {
                let value = mix * a[index] + (1 - mix) * b[index] + spread[index] * numbers.normal()
                out[row * dimension + index] = max(0, value)
            }
        }
        return out
    }

    /// The process's resident memory, after handing freed heap back to the system (so what a
    /// temporary copy took is not counted).
    static func residentMegabytes() -> Double {
        MallocTuning.trim()
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes / 1024
    }

    static func percentiles(_ milliseconds: [Double]) -> String {
        let sorted = milliseconds.sorted()
        func at(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        return String(
            format: "p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, %.1f queries/s", at(0.5), at(0.95), at(0.99),
            Double(sorted.count) / (sorted.reduce(0, +) / 1000))
    }

    public static func run(
        _ settings: IrisSettings, model: String, vectors count: Int, queries queryCount: Int, lists: Int,
        threads: Int, out: String?
    ) async throws {
        guard (1000...5_000_000).contains(count) else {
            throw Refusal.invalid("--vectors must be from 1,000 to 5,000,000")
        }
        guard (10...10_000).contains(queryCount) else {
            throw Refusal.invalid("--queries must be from 10 to 10,000")
        }
        let logger = settings.makeLogger()
        let dependencies = try await IrisDependencies.open(settings, logger: logger)
        var real: [[Float]] = []
        do {
            var cursor: String?
            while true {
                let page = try await dependencies.store.search.embeddings(model: model, after: cursor, limit: 1000)
                real += page.map(\.vector)
                guard let last = page.last, page.count == 1000 else { break }
                cursor = last.sha256
            }
            await dependencies.close()
        } catch {
            await dependencies.close()
            throw error
        }
        guard real.count >= 20, let dimension = real.first?.count else {
            throw Refusal.invalid(
                "the data folder has \(real.count) \(model) embeddings; at least 20 real ones are needed")
        }
        func say(_ text: String) { print(text) }
        say(
            "vectors: \(count) × \(dimension) made from \(real.count) real \(model) embeddings (blend of two, noise of half each dimension's spread, clipped at 0); \(queryCount) queries made the same way"
        )
        var started = Date()
        let data = synthesize(count: count, from: real, seed: 1)
        let queries = synthesize(count: queryCount, from: real, seed: 2)
        say(String(format: "synthesis: %.1f s", Date().timeIntervalSince(started)))
        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            for (name, values) in [("vectors.f32", data), ("queries.f32", queries)] {
                // In pieces of 64 MB: Foundation's `Data.write` on Linux wrote the first 2 GB of a
                // 5 GB buffer, then the buffer's start again in place of the rest.
                let path = out + "/" + name
                FileManager.default.createFile(atPath: path, contents: nil)
                let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                try values.withUnsafeBytes { bytes in
                    var offset = 0
                    while offset < bytes.count {
                        let end = min(bytes.count, offset + 64 << 20)
                        try file.write(contentsOf: Data(bytes[offset..<end]))
                        offset = end
                    }
                }
                try file.close()
            }
        }
        let before = residentMegabytes()
        started = Date()
        var index = VectorIndex(dimension: dimension)
        for row in 0..<count {
            index.upsert(
                String(format: "%064x", row), vector: Array(data[row * dimension..<(row + 1) * dimension]), groups: [1])
        }
        let built = Date().timeIntervalSince(started)
        // The synthetic vectors stay alive until measured, so the growth is the index's alone.
        let memory = withExtendedLifetime(data) { residentMegabytes() - before }
        say(
            String(
                format:
                    "exact index: built in %.1f s (%.0f vectors/s), %.0f MB resident (%.0f MB per million vectors; the vectors alone %.0f)",
                built, Double(count) / built, memory, memory * 1e6 / Double(count),
                Double(index.bytesPerVector) * 1e6 / 1_048_576))
        func query(_ row: Int) -> [Float] { Array(queries[row * dimension..<(row + 1) * dimension]) }
        var truth: [[String]] = []
        var times: [Double] = []
        for row in 0..<queryCount {
            let start = Date()
            let hits = index.nearest(to: query(row), k: 10, in: nil, threads: threads)
            times.append(Date().timeIntervalSince(start) * 1000)
            truth.append(hits.map(\.key))
        }
        say("exact search, \(threads) threads: " + percentiles(times))
        // Filtered inside the scan: a project of 1 in 10 vectors still answers 10.
        started = Date()
        index.cluster(lists: lists, threads: threads)
        let clustered = Date().timeIntervalSince(started)
        say(
            String(
                format:
                    "clustered (IVF): %d lists in %.1f s (k-means on 32,768 vectors, then all assigned), %.1f MB more",
                index.clusterCount, clustered, Double(index.clusterBytes) / 1_048_576))
        let sizes = index.listSizes.sorted()
        say(
            "lists hold \(sizes.first ?? 0) to \(sizes.last ?? 0) vectors (median \(sizes.isEmpty ? 0 : sizes[sizes.count / 2]))"
        )
        for probes in [4, 8, 16, 32, 64] where probes <= index.clusterCount {
            var times: [Double] = []
            var found = 0
            for row in 0..<queryCount {
                let start = Date()
                let hits = index.nearest(to: query(row), k: 10, in: nil, probes: probes, threads: threads)
                times.append(Date().timeIntervalSince(start) * 1000)
                found += Set(hits.map(\.key)).intersection(truth[row]).count
            }
            say(
                String(
                    format: "approximate, %d of %d lists: recall@10 %.3f, ", probes, index.clusterCount,
                    Double(found) / Double(10 * queryCount)) + percentiles(times))
        }
        if let out {
            let lines = truth.map { $0.map { String(Int($0, radix: 16) ?? -1) }.joined(separator: " ") }
            try (lines.joined(separator: "\n") + "\n").write(
                toFile: out + "/exact.txt", atomically: true, encoding: .utf8)
        }
    }
}
