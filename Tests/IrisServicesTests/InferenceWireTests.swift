import Foundation
import IrisCore
import Testing

@testable import IrisServices

/// The Open Inference Protocol's body as Iris reads and writes it: JSON tensors, Triton's binary
/// tensor data after the JSON, and a refusal naming the tensor for every way a body can be wrong.
@Suite struct InferenceWireTests {
    func body(_ json: String, binary: [UInt8] = []) -> (bytes: [UInt8], header: String?) {
        (Array(json.utf8) + binary, binary.isEmpty ? nil : String(json.utf8.count))
    }

    func refusal(_ json: String, binary: [UInt8] = [], header: String?? = nil) -> Refusal? {
        let (bytes, computed) = body(json, binary: binary)
        do {
            _ = try InferenceWire.request(bytes, headerLength: header ?? computed)
            return nil
        } catch let refusal as Refusal {
            return refusal
        } catch {
            return nil
        }
    }

    static func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    @Test func readsJSONTensorsFlatOrNested() throws {
        // act
        let request = try InferenceWire.request(
            Array(
                #"{"id": "r1", "inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 2, 2], "data": [[1, 2], [3.5, -4]]}], "outputs": [{"name": "probabilities", "parameters": {"classification": 3, "binary_data": true}}]}"#
                    .utf8), headerLength: nil)
        // check
        #expect(request.id == "r1")
        #expect(
            request.inputs == [
                .init(name: "image", datatype: "FP32", shape: [1, 2, 2], values: .floats([1, 2, 3.5, -4]))
            ])
        #expect(request.outputs == [.init(name: "probabilities", binary: true, classification: 3)])
        #expect(request.binaryOutputs == false)
    }

    @Test func readsBinaryTensorsAfterTheJSON() throws {
        // setup: two FP32 values, then two BYTES elements, each a 4-byte length and its bytes
        let floats = Self.le32(Float(1.5).bitPattern) + Self.le32(Float(-2).bitPattern)
        let strings = Self.le32(3) + Array("abc".utf8) + Self.le32(0)
        let json =
            #"{"parameters": {"binary_data_output": true}, "inputs": [{"name": "t", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}}, {"name": "encoded_image", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 11}}]}"#
        // act
        let (bytes, header) = body(json, binary: floats + strings)
        let request = try InferenceWire.request(bytes, headerLength: header)
        // check
        #expect(request.inputs.map(\.values) == [.floats([1.5, -2]), .bytes([Data("abc".utf8), Data()])])
        #expect(request.binaryOutputs)
    }

    @Test func base64InJSONIsTheImageBytes() throws {
        let request = try InferenceWire.request(
            Array(
                #"{"inputs": [{"name": "encoded_image", "datatype": "BYTES", "shape": [1], "data": ["/9j/4A=="]}]}"#
                    .utf8),
            headerLength: nil)
        #expect(request.inputs[0].values == .bytes([Data([0xFF, 0xD8, 0xFF, 0xE0])]))
    }

    @Test func everyBadBodyIsRefusedNamingWhatIsWrong() {
        let tensor = #"{"name": "image", "datatype": "FP32", "shape": [2], "data": [1, 2]}"#
        let cases: [(String, [UInt8], String??, String)] = [
            ("not json", [], nil, "not JSON"),
            ("[1]", [], nil, "JSON object"),
            (#"{"inputs": []}"#, [], nil, "inputs"),
            (#"{"inputs": [{"datatype": "FP32", "shape": [1], "data": [1]}]}"#, [], nil, "name"),
            (#"{"inputs": [{"name": "image", "datatype": "INT32", "shape": [1], "data": [1]}]}"#, [], nil, "INT32"),
            (
                #"{"inputs": [{"name": "image", "datatype": "FP32", "shape": [3], "data": [1, 2]}]}"#, [], nil,
                "3 elements but 2"
            ),
            (
                #"{"inputs": [{"name": "image", "datatype": "FP32", "shape": [1], "data": ["x"]}]}"#, [], nil,
                "not a number"
            ),
            (
                #"{"inputs": [{"name": "image", "datatype": "FP32", "shape": [-1], "data": [1]}]}"#, [], nil,
                "sizes of 0 or more"
            ),
            (
                #"{"inputs": [{"name": "image", "datatype": "FP32", "shape": [100000000, 100], "data": [1]}]}"#, [],
                nil, "more than"
            ),
            (#"{"inputs": [{"name": "image", "datatype": "FP32", "shape": [1]}]}"#, [], nil, "neither"),
            (#"{"inputs": [\#(tensor), \#(tensor)]}"#, [], nil, "twice"),
            (
                #"{"inputs": [{"name": "encoded_image", "datatype": "BYTES", "shape": [1], "data": ["***"]}]}"#, [],
                nil, "base64"
            ),
            (
                #"{"inputs": [{"name": "image", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 8}}]}"#,
                [1, 2, 3, 4], .some(nil), "not JSON"
            ),
            (
                #"{"inputs": [{"name": "image", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 8}}]}"#,
                [1, 2, 3, 4], nil, "more than the 4 bytes"
            ),
            (
                #"{"inputs": [{"name": "image", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 3}}]}"#,
                [1, 2, 3], nil, "whole number"
            ),
            (
                #"{"inputs": [{"name": "image", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 4}}]}"#,
                [0, 0, 0x80, 0x3F, 9], nil, "after the tensors"
            ),
            (
                #"{"inputs": [{"name": "image", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 4}}]}"#,
                [0, 0, 0x80, 0x7F], nil, "finite"
            ),
            (
                #"{"inputs": [{"name": "image", "datatype": "FP32", "shape": "two", "data": [1]}]}"#, [], nil,
                "inputs[0].shape"
            ),
            (
                #"{"inputs": [{"name": "image", "datatype": "FP32", "shape": [1], "data": [true]}]}"#, [], nil,
                "not a number"
            ),
            (
                #"{"inputs": [{"name": "encoded_image", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 6}}]}"#,
                Self.le32(9) + [1, 2], nil, "says 9 bytes"
            ),
            (
                #"{"inputs": [{"name": "encoded_image", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 2}}]}"#,
                [1, 2], nil, "4-byte length"
            ),
            (
                #"{"inputs": [\#(tensor)], "outputs": [{"name": "p", "parameters": {"classification": 0}}]}"#, [], nil,
                "classification"
            ),
            (tensor, [], .some("99999"), "Inference-Header-Content-Length"),
        ]
        for (json, binary, header, words) in cases {
            let refused = refusal(json, binary: binary, header: header)
            #expect(refused?.kind == .invalid, "\(json) was not refused")
            #expect(
                refused?.detail.contains(words) == true, "\(json): \(refused?.detail ?? "accepted"), not about \(words)"
            )
        }
    }

    @Test func writesJSONAndBinaryOutputs() throws {
        // act
        let (body, header) = InferenceWire.response(
            model: "m", id: "r1",
            outputs: [
                .init(name: "labels", shape: [1, 2], values: .bytes([Data("cat".utf8), Data("dog".utf8)])),
                .init(name: "probabilities", shape: [1, 2], values: .floats([0.75, 0.25]), binary: true),
            ])
        // check: the JSON, then the binary tensor, whose size the JSON gives
        let length = try #require(header)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body[0..<length])) as? [String: Any])
        #expect(json["model_name"] as? String == "m" && json["id"] as? String == "r1")
        let outputs = try #require(json["outputs"] as? [[String: Any]])
        #expect(outputs[0]["data"] as? [String] == ["cat", "dog"])
        #expect(outputs[1]["datatype"] as? String == "FP32")
        #expect((outputs[1]["parameters"] as? [String: Any])?["binary_data_size"] as? Int == 8)
        #expect(Array(body[length...]) == Self.le32(Float(0.75).bitPattern) + Self.le32(Float(0.25).bitPattern))
        // JSON alone carries no header length
        #expect(InferenceWire.response(model: "m", id: nil, outputs: []).headerLength == nil)
    }
}
