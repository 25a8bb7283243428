public import Foundation

/// A stored result of one model on one image. `result` is the model's output as JSON
/// (labels, moderation, text; an embedding is stored apart and only its size is here).
public struct Analysis: Sendable, Equatable {
    public let sha256: String
    public let model: String
    public let result: String
    public let createdAt: Date

    public init(sha256: String, model: String, result: String, createdAt: Date) {
        self.sha256 = sha256
        self.model = model
        self.result = result
        self.createdAt = createdAt
    }
}

/// An image's feature vector from one model, L2-normalised.
public struct Embedding: Sendable, Equatable {
    public let sha256: String
    public let model: String
    public let vector: [Float]

    public init(sha256: String, model: String, vector: [Float]) {
        self.sha256 = sha256
        self.model = model
        self.vector = vector
    }

    /// Little-endian float32, base64: the same text in SQLite and PostgreSQL.
    public var encoded: String {
        var data = Data(capacity: vector.count * 4)
        for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data.base64EncodedString()
    }

    public static func decode(_ text: String) -> [Float]? {
        guard let data = Data(base64Encoded: text), data.count % 4 == 0 else { return nil }
        return stride(from: 0, to: data.count, by: 4).map { offset in
            let bits = data[data.startIndex + offset..<data.startIndex + offset + 4].enumerated()
                .reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
            return Float(bitPattern: bits)
        }
    }
}
