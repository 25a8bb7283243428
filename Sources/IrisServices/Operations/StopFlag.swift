import NIOConcurrencyHelpers

/// A flag raised once when the server begins to stop, read by long-lived responses.
public final class StopFlag: Sendable {
    private let raised = NIOLockedValueBox(false)

    public init() {}

    public var isRaised: Bool { raised.withLockedValue { $0 } }

    public func raise() { raised.withLockedValue { $0 = true } }
}
