public import Foundation

/// A project's incremental learner as stored: which embedding model it learns over, and
/// the global sum of its members' normalised features (the seed's `shell_family`).
public struct LearnerRecord: Sendable, Equatable {
    public var projectID: Int64
    public var model: String
    public var dimension: Int
    public var count: Int
    public var classCount: Int
    public var globalSum: [Double]
    public var updatedAt: Date
    public var consolidatedAt: Date?

    public init(
        projectID: Int64, model: String, dimension: Int, count: Int, classCount: Int, globalSum: [Double],
        updatedAt: Date,
        consolidatedAt: Date?
    ) {
        self.projectID = projectID
        self.model = model
        self.dimension = dimension
        self.count = count
        self.classCount = classCount
        self.globalSum = globalSum
        self.updatedAt = updatedAt
        self.consolidatedAt = consolidatedAt
    }
}

/// One class of a learner (the seed's `shell`): feature sum, member count and noise statistics.
public struct LearnerClassRecord: Sendable, Equatable {
    public var name: String
    public var count: Int
    public var sum: [Double]
    public var noiseMean: Double
    public var noiseM2: Double
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        name: String, count: Int, sum: [Double], noiseMean: Double, noiseM2: Double, createdAt: Date, updatedAt: Date
    ) {
        self.name = name
        self.count = count
        self.sum = sum
        self.noiseMean = noiseMean
        self.noiseM2 = noiseM2
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A trained classification head, one version per training run.
public struct ClassifierRecord: Sendable, Equatable {
    public var id: Int64
    public var projectID: Int64
    public var version: Int
    public var model: String
    public var classes: [String]
    /// The head's parameters as JSON (IrisML's `SoftmaxRegression`).
    public var parameters: String
    /// Training figures as JSON: epochs, split sizes, validation accuracy.
    public var report: String
    public var active: Bool
    public var jobID: Int64?
    public var createdAt: Date

    public init(
        id: Int64 = 0, projectID: Int64, version: Int = 0, model: String, classes: [String], parameters: String,
        report: String,
        active: Bool = false, jobID: Int64?, createdAt: Date
    ) {
        self.id = id
        self.projectID = projectID
        self.version = version
        self.model = model
        self.classes = classes
        self.parameters = parameters
        self.report = report
        self.active = active
        self.jobID = jobID
        self.createdAt = createdAt
    }
}

/// One run of "Test model": what was tested, on what, and the report as JSON.
public struct EvaluationRecord: Sendable, Equatable {
    public var id: Int64
    public var projectID: Int64
    /// `learner` or `classifier`.
    public var target: String
    public var version: Int?
    public var split: String
    public var report: String
    public var jobID: Int64?
    public var createdAt: Date

    public init(
        id: Int64 = 0, projectID: Int64, target: String, version: Int?, split: String, report: String, jobID: Int64?,
        createdAt: Date
    ) {
        self.id = id
        self.projectID = projectID
        self.target = target
        self.version = version
        self.split = split
        self.report = report
        self.jobID = jobID
        self.createdAt = createdAt
    }
}

/// Vectors of doubles as text: little-endian float64, base64 (the same in SQLite and PostgreSQL).
public enum DoubleVector {
    public static func encode(_ values: [Double]) -> String {
        var data = Data(capacity: values.count * 8)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data.base64EncodedString()
    }

    public static func decode(_ text: String) -> [Double]? {
        guard let data = Data(base64Encoded: text), data.count % 8 == 0 else { return nil }
        return data.withUnsafeBytes { raw in
            (0..<data.count / 8).map {
                Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)))
            }
        }
    }
}
