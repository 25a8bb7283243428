import Foundation
public import IrisCore
import IrisImaging
public import IrisStore

/// Near-duplicates in a project, found two ways and joined into groups: copies of the same
/// picture (re-encoded, resized, lightly cropped or recoloured) by their difference hashes
/// (`PerceptualHash`), confirmed by their embeddings when both have one, and near-identical
/// shots (a burst, the same scene a second later) by their embeddings alone. An editor keeps one of each group; the others leave the project and
/// their labels move to the one kept.
public struct Duplicates: Sendable {
    let store: IrisStore
    let library: ImageLibrary
    let similar: SimilarImages

    public init(store: IrisStore, library: ImageLibrary, similar: SimilarImages) {
        (self.store, self.library, self.similar) = (store, library, similar)
    }

    /// Bits of 64 two copies' hashes may differ in when their embeddings agree (cosine at
    /// least `copySimilarity`). Re-encoding at quality 30 or resizing to 96 px moves 0–3 bits
    /// (DuplicatesTests), a 3 % crop up to 8. Different photos of the same kind differ in about
    /// 32, but cut-out objects on white (Tux Paint's stamps) can be 4–10 apart: there the
    /// embeddings tell them apart (cosine 0.33–0.72 against 0.82–0.99 for copies). At most 15,
    /// for the byte buckets below.
    public static let hashDistance = 10
    /// Bits two hashes may differ in when either image has no embedding to confirm them.
    public static let hashOnlyDistance = 6
    /// The least cosine similarity of two copies' embeddings: a copy at a third of the size and
    /// JPEG quality 40 keeps 0.82–0.89, a 3 % crop 0.95–0.99.
    public static let copySimilarity: Float = 0.8
    /// Two photos at least this similar by embedding are near-identical shots, whatever their hashes.
    public static let embeddingSimilarity: Float = 0.95
    /// The most images one look covers (the oldest members first).
    public static let maxImages = 20_000
    /// Embeddings are compared (every image against the project's) up to this many images.
    public static let maxEmbeddingImages = 3_000
    /// Hashes not stored yet are made for at most this long per look; the rest the next time.
    public static let hashingSeconds = 20.0

    public struct Member: Sendable, Equatable {
        public var sha256: String
        public var pixels: Int64
        /// Bits its hash differs from the first member's (nil: no hash).
        public var hashDistance: Int?
        /// Its embedding's cosine similarity to the first member's (nil: no embedding).
        public var similarity: Float?
    }

    public struct Group: Sendable, Equatable {
        /// The suggested keeper first (most pixels, then the earliest in the project).
        public var members: [Member]
    }

    public struct Report: Sendable {
        public var groups: [Group]
        /// Images looked at, and whether that was all of the project.
        public var images: Int
        public var complete: Bool
        /// Images whose hash could not be made in this look (the next look continues).
        public var unhashed: Int
        /// The model whose embeddings were compared (nil: none were).
        public var model: String?
    }

    /// `progress` gets the share done (0…1): hashing the thumbnails not hashed yet is the
    /// first half, the embeddings' neighbours and the hash comparisons the second.
    public func find(in projectID: Int64, progress: (Double) -> Void = { _ in }) async throws -> Report {
        let found = try await store.search.members(of: projectID, limit: Self.maxImages + 1)
        let members = Array(found.prefix(Self.maxImages))
        let order = Dictionary(members.enumerated().map { ($1.sha256, $0) }, uniquingKeysWith: { a, _ in a })
        var hashes = try await store.search.perceptualHashes(sha256s: members.map(\.sha256))
        let deadline = Date().addingTimeInterval(Self.hashingSeconds)
        var unhashed = 0
        for (position, member) in members.enumerated() where hashes[member.sha256] == nil {
            if position % 256 == 0 { progress(0.5 * Double(position) / Double(members.count)) }
            guard Date() < deadline else {
                unhashed += 1
                continue
            }
            // A thumbnail that cannot be read leaves the image out of the hash comparison.
            guard let hash = try? await library.perceptualHash(sha256: member.sha256) else {
                unhashed += 1
                continue
            }
            hashes[member.sha256] = hash
            try await store.search.savePerceptualHash(sha256: member.sha256, hash: hash)
        }

        var parent = Array(0..<members.count)
        func root(_ index: Int) -> Int {
            var index = index
            while parent[index] != index {
                parent[index] = parent[parent[index]]
                index = parent[index]
            }
            return index
        }
        func join(_ a: Int, _ b: Int) {
            let (ra, rb) = (root(a), root(b))
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }
        progress(0.5)
        var vectors: [String: [Float]] = [:]
        var model: String?
        if members.count <= Self.maxEmbeddingImages {
            for name in similar.plainEmbedders {
                let index = try await similar.indexes.index(name)
                let known = index.read { index in
                    members.compactMap { member in index.vector(for: member.sha256).map { (member.sha256, $0) } }
                }
                guard !known.isEmpty else { continue }
                model = name
                vectors = Dictionary(known, uniquingKeysWith: { a, _ in a })
                let pairs = index.read { index in
                    known.flatMap { sha256, vector in
                        index.nearest(to: vector, k: 5, in: [projectID], excluding: [sha256], hidden: [:])
                            .filter { $0.similarity >= Self.embeddingSimilarity }.map { (sha256, $0.key) }
                    }
                }
                for (a, b) in pairs {
                    if let a = order[a], let b = order[b] { join(a, b) }
                }
                break
            }
        }

        func cosine(_ a: String, _ b: String) -> Float? {
            guard let x = vectors[a], let y = vectors[b] else { return nil }
            return zip(x, y).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        }
        // Two hashes at most 15 bits apart have a byte (of their 8, in the same place) that
        // differs in at most 1 bit: each image is compared only with those whose byte there is
        // its own or one bit away.
        var buckets: [Int: [Int]] = [:]
        for (index, member) in members.enumerated() {
            guard let hash = hashes[member.sha256] else { continue }
            for byte in 0..<8 { buckets[byte << 8 | Int((hash >> UInt64(byte * 8)) & 0xFF), default: []].append(index) }
        }
        progress(0.8)
        for (a, member) in members.enumerated() {
            if a % 1024 == 0 { progress(0.8 + 0.2 * Double(a) / Double(members.count)) }
            guard let first = hashes[member.sha256] else { continue }
            var compared: Set<Int> = []
            for byte in 0..<8 {
                let value = Int((first >> UInt64(byte * 8)) & 0xFF)
                for near in [value] + (0..<8).map({ value ^ (1 << $0) }) {
                    for b in buckets[byte << 8 | near] ?? [] where b > a && compared.insert(b).inserted {
                        guard let second = hashes[members[b].sha256] else { continue }
                        let bits = PerceptualHash.distance(first, second)
                        guard bits <= Self.hashDistance else { continue }
                        if let similarity = cosine(member.sha256, members[b].sha256) {
                            if similarity >= Self.copySimilarity { join(a, b) }
                        } else if bits <= Self.hashOnlyDistance {
                            join(a, b)
                        }
                    }
                }
            }
        }
        var components: [Int: [Int]] = [:]
        for index in members.indices { components[root(index), default: []].append(index) }
        var groups: [Group] = []
        for indices in components.values where indices.count > 1 {
            let sorted = indices.sorted {
                members[$0].pixels != members[$1].pixels ? members[$0].pixels > members[$1].pixels : $0 < $1
            }
            let keeper = members[sorted[0]].sha256
            groups.append(
                Group(
                    members: sorted.map { index in
                        let sha256 = members[index].sha256
                        var member = Member(
                            sha256: sha256, pixels: members[index].pixels, hashDistance: nil, similarity: nil)
                        if let a = hashes[keeper], let b = hashes[sha256] {
                            member.hashDistance = PerceptualHash.distance(a, b)
                        }
                        member.similarity = cosine(keeper, sha256)
                        return member
                    }))
        }
        groups.sort {
            $0.members.count != $1.members.count
                ? $0.members.count > $1.members.count
                : (order[$0.members[0].sha256] ?? 0) < (order[$1.members[0].sha256] ?? 0)
        }
        return Report(
            groups: groups, images: members.count, complete: found.count <= Self.maxImages, unhashed: unhashed,
            model: model)
    }

    /// Keeps `keep` and takes `others` out of the project, their labels added to `keep`; blobs
    /// no project needs any more are deleted. Answers the labels `keep` has afterwards.
    public func keep(_ keep: String, removing others: [String], in projectID: Int64) async throws -> [Label] {
        let orphans = try await store.images.merge(others, into: keep, in: projectID)
        for sha256 in orphans { _ = try await library.removeIfOrphan(sha256) }
        return try await store.images.member(sha256: keep, of: projectID)?.labels ?? []
    }
}
