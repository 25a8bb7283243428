import Foundation
import IrisBlobs
import Testing

/// The signer against the worked examples AWS publishes for S3's Signature Version 4
/// (example credentials, bucket `examplebucket`, 24 May 2013): if one byte of a canonical
/// request, the string to sign or the key derivation were wrong, these signatures would differ.
@Suite("AWS Signature Version 4")
struct SigV4Tests {
    let signer = SigV4Signer(
        credentials: .init(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1")
    let date = Date(timeIntervalSince1970: 1_369_353_600)  // 20130524T000000Z
    let host = "examplebucket.s3.amazonaws.com"

    func signature(_ headers: [(String, String)]) -> String? {
        headers.first { $0.0 == "authorization" }?.1.components(separatedBy: "Signature=").last
    }

    @Test("GET an object with a range")
    func getObject() {
        let headers = signer.sign(
            method: "GET", path: "/test.txt", query: [], headers: [("Host", host), ("Range", "bytes=0-9")],
            payloadHash: SigV4Signer.emptyPayload, date: date)
        #expect(
            headers.first { $0.0 == "authorization" }?.1
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
        #expect(headers.contains { $0 == ("x-amz-date", "20130524T000000Z") })
    }

    @Test("PUT an object: a key that needs encoding, a signed body and an extra header")
    func putObject() {
        let headers = signer.sign(
            method: "PUT", path: "/test$file.text", query: [],
            headers: [
                ("Host", host), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            payloadHash: "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072", date: date)
        #expect(signature(headers) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("GET a bucket's lifecycle and list objects: queries with an empty value and sorted parameters")
    func queries() {
        let lifecycle = signer.sign(
            method: "GET", path: "/", query: [("lifecycle", "")], headers: [("Host", host)],
            payloadHash: SigV4Signer.emptyPayload, date: date)
        #expect(signature(lifecycle) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
        let listing = signer.sign(
            method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: [("Host", host)],
            payloadHash: SigV4Signer.emptyPayload, date: date)
        #expect(signature(listing) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test("a presigned GET URL valid for a day")
    func presigned() {
        let query = signer.presignedQuery(method: "GET", host: host, path: "/test.txt", expires: 86_400, date: date)
        #expect(query.hasSuffix("&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"))
        #expect(query.contains("X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"))
    }
}
