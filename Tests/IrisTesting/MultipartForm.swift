public import Foundation
public import NIOCore

/// Builds multipart/form-data bodies as browsers and phone clients send them.
public struct MultipartForm {
    public let boundary = "iris-boundary-" + UUID().uuidString
    private var bytes = Data()

    public init() {}

    public mutating func addField(_ name: String, _ value: String) {
        bytes.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
    }

    public mutating func addFile(
        _ name: String, fileName: String, data: Data, type: String = "application/octet-stream"
    ) {
        bytes.append(
            Data(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(fileName)\"\r\nContent-Type: \(type)\r\n\r\n"
                    .utf8))
        bytes.append(data)
        bytes.append(Data("\r\n".utf8))
    }

    public var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    public var body: ByteBuffer {
        var all = bytes
        all.append(Data("--\(boundary)--\r\n".utf8))
        return ByteBuffer(bytes: all)
    }
}
