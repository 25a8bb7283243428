/// Bounds on what one upload or import may cost the server.
public struct IngestLimits: Sendable, Equatable {
    public var maxUploadBytes: Int64
    public var maxPixels: Int64
    public var maxZipEntries: Int
    public var maxZipTotalBytes: Int64
    public var maxZipRatio: Int64

    public init(
        maxUploadBytes: Int64 = 512 << 20, maxPixels: Int64 = 100_000_000, maxZipEntries: Int = 100_000,
        maxZipTotalBytes: Int64 = 20 << 30, maxZipRatio: Int64 = 100
    ) {
        self.maxUploadBytes = maxUploadBytes
        self.maxPixels = maxPixels
        self.maxZipEntries = maxZipEntries
        self.maxZipTotalBytes = maxZipTotalBytes
        self.maxZipRatio = maxZipRatio
    }

    public init(_ reader: ConfigurationReader) throws {
        self.init(
            maxUploadBytes: Int64(try reader.int(.uploadMaxBytes, in: 1...Int.max)),
            maxPixels: Int64(try reader.int(.imageMaxPixels, in: 1...Int.max)),
            maxZipEntries: try reader.int(.importMaxEntries, in: 1...Int.max),
            maxZipTotalBytes: Int64(try reader.int(.importMaxTotalBytes, in: 1...Int.max)),
            maxZipRatio: Int64(try reader.int(.importMaxRatio, in: 1...Int.max))
        )
    }
}
