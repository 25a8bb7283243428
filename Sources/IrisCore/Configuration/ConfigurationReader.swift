import Foundation

/// Resolves settings in layers: flags → `IRIS_*` environment → JSON config file → defaults.
///
/// The config file is JSON, nested or flat: `{"http": {"port": 9000}}` and
/// `{"http.port": 9000}` mean the same. Unknown keys in the file are an error, so a
/// typo never silently falls back to a default.
public struct ConfigurationReader: Sendable {
    public let flags: [String: String]
    public let environment: [String: String]
    public let file: [String: String]

    public init(flags: [String: String] = [:], environment: [String: String] = [:], file: [String: String] = [:]) {
        self.flags = flags
        self.environment = environment
        self.file = file
    }

    /// Reads the config file at `path`, or `IRIS_CONFIG`, if either names one.
    public static func load(flags: [String: String], configPath: String?, environment: [String: String]) throws
        -> ConfigurationReader
    {
        let path = configPath ?? environment["IRIS_CONFIG"]
        var file: [String: String] = [:]
        if let path, !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError("config file \(path) cannot be read", setting: "config")
            }
            file = try parseFile(data, path: path)
        }
        return ConfigurationReader(flags: flags, environment: environment, file: file)
    }

    /// Parses config-file text as `load` would (for tests and `iris config --check`).
    public static func parseFileForTesting(_ text: String) throws -> [String: String] {
        try parseFile(Data(text.utf8), path: "<text>")
    }

    static func parseFile(_ data: Data, path: String) throws -> [String: String] {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ConfigurationError("config file \(path) is not a JSON object", setting: "config")
        }
        var flat: [String: String] = [:]
        func walk(_ value: Any, prefix: String) {
            if let dictionary = value as? [String: Any] {
                for (key, child) in dictionary { walk(child, prefix: prefix.isEmpty ? key : "\(prefix).\(key)") }
            } else if let number = value as? NSNumber {
                flat[prefix] = number.stringValue
            } else {
                flat[prefix] = "\(value)"
            }
        }
        walk(object, prefix: "")
        let known = Set(ConfigurationKey.all.map(\.name))
        if let unknown = flat.keys.sorted().first(where: { !known.contains($0) }) {
            throw ConfigurationError("config file \(path) has unknown key \(unknown)", setting: unknown)
        }
        return flat
    }

    public func string(_ key: ConfigurationKey) -> String {
        flags[key.name] ?? environment[key.environmentName] ?? file[key.name] ?? key.defaultValue
    }

    public func int(_ key: ConfigurationKey) throws -> Int {
        let text = string(key)
        guard let value = Int(text) else {
            throw ConfigurationError("setting \(key.name) must be a whole number, not \"\(text)\"", setting: key.name)
        }
        return value
    }

    public func int(_ key: ConfigurationKey, in range: ClosedRange<Int>) throws -> Int {
        let value = try int(key)
        guard range.contains(value) else {
            throw ConfigurationError(
                "setting \(key.name) must be in \(range.lowerBound)...\(range.upperBound), not \(value)",
                setting: key.name)
        }
        return value
    }

    public func double(_ key: ConfigurationKey, in range: ClosedRange<Double>) throws -> Double {
        let text = string(key)
        guard let value = Double(text), range.contains(value) else {
            throw ConfigurationError(
                "setting \(key.name) must be a number in \(range.lowerBound)...\(range.upperBound), not \"\(text)\"",
                setting: key.name)
        }
        return value
    }
}
