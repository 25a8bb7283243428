public import Foundation
public import IrisCore
public import IrisStore
public import Logging

/// Every setting `iris serve` needs, resolved from the layered configuration.
public struct IrisSettings: Sendable {
    public var host: String
    public var port: Int
    /// `http.idle_timeout`: a stalled body or an idle connection is closed after this many seconds.
    public var idleTimeout: Double = 60
    /// `http.header_timeout`: a request's headers must arrive within this many seconds.
    public var headerTimeout: Double = 15
    /// `http.trusted_proxies`: peers whose `X-Forwarded-For` names the client.
    public var trustedProxies: [IPNetwork] = []
    public var dataDirectory: URL
    public var database: DatabaseLocation
    public var poolSize: Int
    public var limits: IngestLimits
    public var thumbnailQuality: Int
    public var logLevel: Logger.Level
    public var jsonLogs: Bool
    public var bcryptCost: UInt8
    public var secureCookies: Bool
    public var signInLimit: Int
    public var uploadRateLimit: Int
    public var mode: ServerMode
    public var jobs: JobSettings
    public var models: ModelSettings
    /// Where blobs are kept (`storage.*`).
    public var storage = StorageSettings()
    /// WordNet's files, for text search (`search.wordnet_dir`).
    public var wordnetDirectory = URL(fileURLWithPath: "/usr/share/wordnet")
    /// The sentence model of text search, by its file's name in the models folder (`search.sentence_model`).
    public var sentenceModel = "minilm-l3"
    /// Most glibc malloc arenas for `iris serve` and `iris worker` (`memory.malloc_arenas`; 0: glibc's default).
    public var mallocArenas: Int
    /// Origins whose task images the Label Studio backend may download (`labelstudio.fetch_origins`).
    public var labelStudioFetchOrigins: Set<String> = []

    public init(
        host: String = "127.0.0.1", port: Int = 8080, dataDirectory: URL, database: DatabaseLocation? = nil,
        poolSize: Int = 4,
        limits: IngestLimits = IngestLimits(), thumbnailQuality: Int = 82, logLevel: Logger.Level = .info,
        jsonLogs: Bool = true,
        bcryptCost: UInt8 = 12, secureCookies: Bool = false, signInLimit: Int = 10, uploadRateLimit: Int = 600,
        mode: ServerMode = .normal,
        jobs: JobSettings = JobSettings(), models: ModelSettings = ModelSettings(), mallocArenas: Int = 2
    ) {
        self.models = models
        self.mallocArenas = mallocArenas
        self.mode = mode
        self.jobs = jobs
        self.signInLimit = signInLimit
        self.uploadRateLimit = uploadRateLimit
        self.bcryptCost = bcryptCost
        self.secureCookies = secureCookies
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.database = database ?? .default(dataDirectory: dataDirectory)
        self.poolSize = poolSize
        self.limits = limits
        self.thumbnailQuality = thumbnailQuality
        self.logLevel = logLevel
        self.jsonLogs = jsonLogs
    }

    public init(_ reader: ConfigurationReader) throws {
        let data = URL(fileURLWithPath: reader.string(.dataDirectory)).standardizedFileURL
        let url = reader.string(.databaseURL)
        let levelName = reader.string(.logLevel)
        guard let level = Logger.Level(rawValue: levelName) else {
            throw ConfigurationError(
                "setting log.level must be one of trace, debug, info, notice, warning, error, critical; not \(levelName)",
                setting: "log.level")
        }
        let format = reader.string(.logFormat)
        guard format == "json" || format == "text" else {
            throw ConfigurationError("setting log.format must be json or text, not \(format)", setting: "log.format")
        }
        self.init(
            host: reader.string(.httpHost),
            port: try reader.int(.httpPort, in: 0...65535),
            dataDirectory: data,
            database: url.isEmpty ? nil : try DatabaseLocation(url: url),
            poolSize: try reader.int(.databasePoolSize, in: 1...64),
            limits: try IngestLimits(reader),
            thumbnailQuality: try reader.int(.thumbnailQuality, in: 1...100),
            logLevel: level,
            jsonLogs: format == "json",
            bcryptCost: UInt8(try reader.int(.bcryptCost, in: 10...16)),
            secureCookies: try Self.bool(reader, .secureCookies),
            signInLimit: try reader.int(.signInLimit, in: 1...10_000),
            uploadRateLimit: try reader.int(.uploadRateLimit, in: 1...1_000_000),
            mode: try Self.mode(reader),
            jobs: try JobSettings(reader),
            models: try ModelSettings(reader),
            mallocArenas: try reader.int(.mallocArenas, in: 0...1024)
        )
        idleTimeout = try reader.double(.httpIdleTimeout, in: 1...86_400)
        headerTimeout = try reader.double(.httpHeaderTimeout, in: 1...3_600)
        trustedProxies = try Self.networks(reader, .httpTrustedProxies)
        storage = try StorageSettings(reader)
        labelStudioFetchOrigins = try Set(
            reader.string(.labelStudioFetchOrigins).split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            .filter { !$0.isEmpty }
            .map { text in
                guard let url = URL(string: text), let origin = LabelStudioTask.origin(of: url),
                    url.path.isEmpty || url.path == "/"
                else {
                    throw ConfigurationError(
                        "labelstudio.fetch_origins: \"\(text)\" is not an origin like http://labelstudio.lan:8080",
                        setting: "labelstudio.fetch_origins")
                }
                return origin
            })
        wordnetDirectory = URL(fileURLWithPath: reader.string(.wordnetDirectory))
        sentenceModel = reader.string(.sentenceModel)
        guard ["minilm-l3", "minilm-l6"].contains(sentenceModel) else {
            throw ConfigurationError(
                "setting search.sentence_model must be minilm-l3 or minilm-l6, not \(sentenceModel)",
                setting: "search.sentence_model")
        }
    }

    public static func mode(_ reader: ConfigurationReader) throws -> ServerMode {
        let text = reader.string(.mode)
        guard let mode = ServerMode(rawValue: text) else {
            throw ConfigurationError("setting mode must be normal, demo or read-only, not \(text)", setting: "mode")
        }
        return mode
    }

    /// A comma-separated list of addresses and CIDR blocks (`10.0.0.5,fd00::/8`).
    public static func networks(_ reader: ConfigurationReader, _ key: ConfigurationKey) throws -> [IPNetwork] {
        try reader.string(key).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .map { text in
                guard let network = IPNetwork(text) else {
                    throw ConfigurationError(
                        "\(key.name): \"\(text)\" is not an address or CIDR block like 10.0.0.5, 10.0.0.0/8 or fd00::/8",
                        setting: key.name)
                }
                return network
            }
    }

    public static func bool(_ reader: ConfigurationReader, _ key: ConfigurationKey) throws -> Bool {
        switch reader.string(key).lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ConfigurationError("setting \(key.name) must be true or false", setting: key.name)
        }
    }

    public var blobsDirectory: URL { dataDirectory.appendingPathComponent("blobs") }
    public var scratchDirectory: URL { dataDirectory.appendingPathComponent("tmp") }
    public var cacheDirectory: URL { storage.cacheDirectory ?? dataDirectory.appendingPathComponent("cache") }
    /// Where the first start writes the administrator's password (mode 0600).
    public var initialAdminPasswordFile: URL { dataDirectory.appendingPathComponent("initial-admin-password") }

    /// The logger every command uses: JSON lines or plain text on standard error.
    public func makeLogger(label: String = "iris") -> Logger {
        let level = logLevel
        let json = jsonLogs
        return Logger(label: label) { label in
            if json { return JSONLogHandler(label: label, level: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
