import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisTesting
import NIOCore
import Testing

@testable import IrisServer
@testable import IrisServices

@Suite("Streaming multipart parser")
struct MultipartParserTests {
    let boundary = "b0undary"

    func body(_ parts: [(headers: String, content: [UInt8])]) -> [UInt8] {
        var bytes = Array("preamble to ignore\r\n".utf8)
        for part in parts {
            bytes += Array("--\(boundary)\r\n\(part.headers)\r\n\r\n".utf8) + part.content + Array("\r\n".utf8)
        }
        return bytes + Array("--\(boundary)--\r\nepilogue".utf8)
    }

    func parse(_ bytes: [UInt8], chunk: Int) throws -> (events: [MultipartStreamParser.Event], complete: Bool) {
        var parser = MultipartStreamParser(boundary: boundary)
        var events: [MultipartStreamParser.Event] = []
        var index = 0
        while index < bytes.count {
            events += try parser.feed(bytes[index..<min(index + chunk, bytes.count)])
            index += chunk
        }
        return (events, parser.isComplete)
    }

    /// Merges consecutive body events, which depend on how the input was chunked.
    func merged(_ events: [MultipartStreamParser.Event]) -> [MultipartStreamParser.Event] {
        events.reduce(into: []) { result, event in
            if case .body(let more) = event, case .body(let so)? = result.last {
                result[result.count - 1] = .body(so + more)
            } else {
                result.append(event)
            }
        }
    }

    @Test(
        "the same parts come out however the body is split, even a byte at a time", arguments: [1, 2, 3, 7, 64, 4096])
    func chunking(chunk: Int) throws {
        // setup: binary content holding a near-boundary and CRLFs
        let binary: [UInt8] = Array("\r\n--b0undar\r\n-- b0undary".utf8) + (0..<300).map { UInt8($0 % 256) }
        let bytes = body([
            (
                "Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream",
                binary
            ),
            ("Content-Disposition: form-data; name=\"label\"", Array("oak".utf8)),
        ])
        // act
        let result = try parse(bytes, chunk: chunk)
        // check
        #expect(result.complete)
        #expect(
            merged(result.events) == [
                .part([
                    "content-disposition": "form-data; name=\"file\"; filename=\"a.bin\"",
                    "content-type": "application/octet-stream",
                ]),
                .body(binary), .partEnd,
                .part(["content-disposition": "form-data; name=\"label\""]), .body(Array("oak".utf8)), .partEnd,
            ])
    }

    @Test(
        "malformed bodies are refused (a 400) or left incomplete (a 400 at the end), never a trap or a success",
        arguments: [
            "--b0undary\r\n\u{B8}K--b0undary--\r\n",
            "--b0undary\r\n\u{FF}\u{FE}: x\r\n\r\ndata\r\n--b0undary--",
            "--b0undary\r\nno colon here\r\n\r\ndata\r\n--b0undary--",
            "--b0undaryXX",
        ])
    func malformed(text: String) {
        var parser = MultipartStreamParser(boundary: boundary)
        do {
            _ = try parser.feed(Array(text.utf8))
            #expect(!parser.isComplete, "accepted as complete: \(text)")
        } catch {
            #expect(error is Problem)
        }
    }

    @Test("a body that never closes is incomplete; endless headers are refused")
    func unterminated() throws {
        var parser = MultipartStreamParser(boundary: boundary)
        _ = try parser.feed(Array("--b0undary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nsome data".utf8))
        #expect(!parser.isComplete)
        var headers = MultipartStreamParser(boundary: boundary)
        #expect(throws: Problem.self) {
            _ = try headers.feed(Array("--b0undary\r\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: 20_000))
        }
    }

    @Test(
        "the request that crashed MultipartKit is a 400 and the server keeps serving", arguments: TestDatabase.enabled)
    func formerCrash(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("p")
            let bytes: [UInt8] = Array("--3de9\r\n".utf8) + [0xB8, 0x4B] + Array("--3de9--\r\n".utf8)
            for path in ["/api/v1/projects/\(project)/imports", "/api/v1/projects/\(project)/images"] {
                let response = try await server.post(
                    path, body: ByteBuffer(bytes: bytes), contentType: "multipart/form-data; boundary=3de9")
                #expect(response.status == .badRequest, "\(path): \(response.text)")
            }
            #expect(try await server.get("/healthz").status == .ok)
        }
    }
}
