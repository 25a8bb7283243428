import Foundation
import HTTPTypes
import HummingbirdTesting
import IrisCore
import IrisServer
import IrisStore
import IrisTesting
import Testing

/// A photo chosen again with a label: the upload gives the project's copy that label and says so,
/// since an uploader who picked the label after the photo went up would otherwise lose it.
@Suite("Labels on an upload of a stored photo")
struct UploadLabelTests {
    @Test(
        "sending a stored photo again with a label adds it to the project's copy and answers labels_added",
        arguments: TestDatabase.enabled)
    func labelAddedToStoredPhoto(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            // setup: a photo in a project with a label set, uploaded without a label
            let project = try await server.createProject("Garden birds", labelSet: ["robin", "wren"])
            let photo = try Fixtures.jpeg(seed: 71)
            let first = try await server.upload(photo, to: project)
            #expect(first.status == .created)
            #expect(try first.json()["labels_added"] as? [String] == [])
            let sha256 = try #require(try first.json()["sha256"] as? String)

            // act: the same bytes again, with a label
            let again = try await server.upload(photo, to: project, labels: ["robin"])
            // check: answered as already there, naming the label it added, which the copy now has
            #expect(again.status == .ok, "\(again.text)")
            #expect(try again.json()["labels_added"] as? [String] == ["robin"], "\(again.text)")
            #expect(try await labels(of: sha256, in: project, server) == ["robin"])

            // act: once more with the same label and a new one
            let twice = try await server.upload(photo, to: project, labels: ["robin", "wren"])
            // check: only the new one is named
            #expect(try twice.json()["labels_added"] as? [String] == ["wren"], "\(twice.text)")
            #expect(try await labels(of: sha256, in: project, server) == ["robin", "wren"])

            // act: a label outside the project's label set
            let outside = try await server.upload(photo, to: project, labels: ["eagle"])
            // check: refused, and the copy keeps what it had
            #expect(outside.status == .badRequest)
            #expect(try outside.json()["field"] as? String == "label")
            #expect(try await labels(of: sha256, in: project, server) == ["robin", "wren"])
        }
    }

    @Test("a new photo's answer names every label it was given", arguments: TestDatabase.enabled)
    func newPhotoNamesItsLabels(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let project = try await server.createProject("Garden birds")
            let answer = try await server.upload(try Fixtures.jpeg(seed: 72), to: project, labels: ["robin", "nest"])
            #expect(answer.status == .created)
            #expect(try answer.json()["labels_added"] as? [String] == ["robin", "nest"], "\(answer.text)")
        }
    }

    /// The human labels of the project's copy, sorted.
    func labels(of sha256: String, in project: Int64, _ server: TestServer) async throws -> [String] {
        let member = try #require(try await server.store.images.member(sha256: sha256, of: project))
        return member.labels.filter { $0.source == Label.humanSource }.map(\.name).sorted()
    }
}
