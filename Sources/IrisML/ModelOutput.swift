import Foundation

/// What one model said about one image; which fields are set depends on its tasks.
public struct ModelOutput: Sendable, Codable, Equatable {
    /// `classify`: the top labels, best first.
    public var labels: [ScoredLabel]?
    /// `embed`: the L2-normalised feature vector.
    public var embedding: [Float]?
    /// `moderate`: probability (0…1) that the image is not safe for work.
    public var moderation: Double?
    /// `detect-text`: lines of text, top to bottom.
    public var text: [TextLine]?
    /// `classify`: every class's probability, in the labels' order (for features made from
    /// them; never stored with the analysis).
    public var probabilities: [Float]?

    enum CodingKeys: String, CodingKey {
        case labels, embedding, moderation, text
    }

    public init(
        labels: [ScoredLabel]? = nil, embedding: [Float]? = nil, moderation: Double? = nil, text: [TextLine]? = nil
    ) {
        self.labels = labels
        self.embedding = embedding
        self.moderation = moderation
        self.text = text
    }
}

public struct ScoredLabel: Sendable, Codable, Equatable {
    public var label: String
    public var score: Double
    public init(label: String, score: Double) {
        self.label = label
        self.score = score
    }
}

/// A line of text and where it is, in the original image's pixels.
public struct TextLine: Sendable, Codable, Equatable {
    public var text: String
    public var confidence: Double
    public var box: Box

    public struct Box: Sendable, Codable, Equatable {
        public var x: Int
        public var y: Int
        public var width: Int
        public var height: Int

        public init(x: Int, y: Int, width: Int, height: Int) {
            (self.x, self.y, self.width, self.height) = (x, y, width, height)
        }
    }

    public init(text: String, confidence: Double, box: Box) {
        (self.text, self.confidence, self.box) = (text, confidence, box)
    }
}
