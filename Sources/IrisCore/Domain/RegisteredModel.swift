public import Foundation

/// A remote model an administrator registered over the API; its manifest is kept as the
/// JSON it was registered with, so every process can load the same model.
public struct RegisteredModel: Sendable, Equatable {
    public var name: String
    public var manifest: String
    public var createdBy: Int64?
    public var createdAt: Date

    public init(name: String, manifest: String, createdBy: Int64?, createdAt: Date) {
        self.name = name
        self.manifest = manifest
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}
