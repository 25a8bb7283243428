import Foundation
import IrisServer
import Testing

@Suite("Documentation stays true")
struct DocumentationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("the README's settings table is the one `iris config --markdown` prints")
    func settingsTable() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let marker = try #require(readme.range(of: "<!-- settings:begin"))
        let start = try #require(readme.range(of: "-->\n", range: marker.lowerBound..<readme.endIndex))
        let end = try #require(readme.range(of: "<!-- settings:end -->"))
        let documented = readme[start.upperBound..<end.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(documented == IrisCommands.settingsTable(markdown: true))
    }
}
