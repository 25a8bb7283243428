/// A setting (flag, `IRIS_*` variable, config file entry) that cannot be used, in the user's
/// words. Settings are read at start-up; the command line prints the description and exits.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The setting's name (`http.port`), or `config` for the file itself.
    public let setting: String
    public let description: String

    public init(_ description: String, setting: String) {
        self.setting = setting
        self.description = description
    }
}
