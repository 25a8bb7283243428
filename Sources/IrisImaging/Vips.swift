import CVips
import Foundation
import IrisCore
import Synchronization

/// Failures from libvips. Its description names only the operation: libvips keeps one error
/// buffer for the whole process, so the text read from it after a failure may be another
/// thread's (another request's file, or a server path). That text is kept in `bufferText` for
/// logs and never shown to a caller.
public struct VipsError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    /// What libvips's shared error buffer held: possibly another thread's words.
    public let bufferText: String
    public var description: String {
        "libvips could not complete \(operation): the image is damaged or cannot be decoded"
    }

    /// Takes and clears libvips's error buffer.
    static func take(_ operation: String) -> VipsError {
        let message = String(cString: vips_error_buffer()).trimmingCharacters(in: .whitespacesAndNewlines)
        vips_error_clear()
        return VipsError(operation: operation, bufferText: message.isEmpty ? "unknown libvips error" : message)
    }
}

/// Starting libvips: once per process, with untrusted and unused loaders blocked.
public enum Vips {
    private static let started: Result<Void, VipsError> = {
        guard iris_vips_start() == 0 else { return .failure(VipsError.take("vips_init")) }
        iris_vips_route_log { level, message in
            Vips.forward(warning: (level & Int32(G_LOG_LEVEL_WARNING.rawValue)) != 0, message)
        }
        return .success(())
    }()

    private static let logHandler = Mutex<(@Sendable (_ warning: Bool, _ message: String) -> Void)?>(nil)

    /// Where libvips's warnings and messages go (the server sends them to its log); until
    /// one is set they are written to standard error as libvips would.
    public static func onLog(_ handler: @escaping @Sendable (_ warning: Bool, _ message: String) -> Void) {
        logHandler.withLock { $0 = handler }
    }

    private static func forward(warning: Bool, _ message: UnsafePointer<CChar>?) {
        let text = message.map { String(cString: $0) } ?? ""
        if let handler = logHandler.withLock({ $0 }) {
            handler(warning, text)
        } else {
            FileHandle.standardError.write(Data("libvips \(warning ? "warning" : "message"): \(text)\n".utf8))
        }
    }

    /// Starts libvips; safe to call many times and from many threads.
    public static func start() throws {
        try started.get()
    }

    /// The libvips version string, e.g. "8.14.1".
    public static var version: String {
        "\(vips_version(0)).\(vips_version(1)).\(vips_version(2))"
    }
}

/// An owned `VipsImage` reference, released when this value goes away.
final class VipsImageHandle {
    let pointer: UnsafeMutablePointer<VipsImage>

    init(_ pointer: UnsafeMutablePointer<VipsImage>) { self.pointer = pointer }
    deinit { iris_vips_unref(pointer) }

    var width: Int { Int(vips_image_get_width(pointer)) }
    var height: Int { Int(vips_image_get_height(pointer)) }
    var bands: Int { Int(vips_image_get_bands(pointer)) }
    var hasAlpha: Bool { vips_image_hasalpha(pointer) != 0 }
    var orientation: Int { Int(vips_image_get_orientation(pointer)) }

    func string(_ field: String) -> String? {
        guard vips_image_get_typeof(pointer, field) != 0 else { return nil }
        var value: UnsafePointer<CChar>?
        guard vips_image_get_string(pointer, field, &value) == 0, let value else {
            vips_error_clear()
            return nil
        }
        return String(cString: value)
    }

    /// Runs a libvips operation that produces a new image.
    static func make(_ operation: String, _ body: (UnsafeMutablePointer<UnsafeMutablePointer<VipsImage>?>) -> Int32)
        throws -> VipsImageHandle
    {
        var out: UnsafeMutablePointer<VipsImage>?
        guard body(&out) == 0, let out else { throw VipsError.take(operation) }
        return VipsImageHandle(out)
    }

    /// Encodes with a libvips saver that writes to a g_malloc'd buffer.
    func encode(
        _ operation: String,
        _ body: (UnsafeMutablePointer<UnsafeMutableRawPointer?>, UnsafeMutablePointer<Int>) -> Int32
    ) throws -> Data {
        var buffer: UnsafeMutableRawPointer?
        var length = 0
        guard body(&buffer, &length) == 0, let buffer else { throw VipsError.take(operation) }
        defer { iris_vips_free(buffer) }
        return Data(bytes: buffer, count: length)
    }
}
