import Foundation
import IrisCore
import IrisTesting
import Testing

@Suite("Recognising image formats by content")
struct ImageFormatTests {
    @Test("every accepted format is recognised from bytes libvips wrote", arguments: ImageFormat.allCases)
    func sniffsEncodedImages(format: ImageFormat) throws {
        // setup
        let data = try Fixtures.image(format)
        // act
        let sniffed = ImageFormat.sniff(data)
        // check
        #expect(sniffed == format)
    }

    @Test("text, SVG, PDF and empty input are not images")
    func refusesNonImages() {
        #expect(ImageFormat.sniff(Data("hello, I am a text file named photo.jpg\n".utf8)) == nil)
        #expect(ImageFormat.sniff(Fixtures.svg) == nil)
        #expect(ImageFormat.sniff(Data("%PDF-1.7\n".utf8)) == nil)
        #expect(ImageFormat.sniff(Data()) == nil)
        #expect(ImageFormat.sniff(Data([0xFF, 0xD8])) == nil)
    }
}

@Suite("Layered configuration")
struct ConfigurationTests {
    @Test("a flag beats the environment, which beats the file, which beats the default")
    func layering() throws {
        // setup
        let file = try ConfigurationReader.parseFileForTesting(
            #"{"http": {"port": 7000, "host": "0.0.0.0"}, "log.level": "debug"}"#)
        let reader = ConfigurationReader(
            flags: ["http.port": "9000"], environment: ["IRIS_HTTP_PORT": "8000", "IRIS_HTTP_HOST": "10.0.0.1"],
            file: file)
        // check
        #expect(try reader.int(.httpPort) == 9000)
        #expect(reader.string(.httpHost) == "10.0.0.1")
        #expect(reader.string(.logLevel) == "debug")
        #expect(reader.string(.thumbnailQuality) == "82")
    }

    @Test("an unknown key in the config file is an error naming it")
    func unknownKey() {
        #expect(throws: ConfigurationError.self) {
            try ConfigurationReader.parseFileForTesting(#"{"http": {"prot": 1}}"#)
        }
        do {
            _ = try ConfigurationReader.parseFileForTesting(#"{"http": {"prot": 1}}"#)
        } catch let failure as ConfigurationError {
            #expect(failure.description.contains("http.prot"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("a malformed number names the setting")
    func badNumber() {
        let reader = ConfigurationReader(environment: ["IRIS_HTTP_PORT": "eighty"])
        #expect(throws: ConfigurationError.self) { try reader.int(.httpPort) }
    }

    @Test("environment names follow the key")
    func environmentNames() {
        #expect(ConfigurationKey.httpPort.environmentName == "IRIS_HTTP_PORT")
        #expect(ConfigurationKey.uploadMaxBytes.environmentName == "IRIS_UPLOAD_MAX_BYTES")
    }
}
