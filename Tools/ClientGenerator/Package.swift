// swift-tools-version:6.1
import PackageDescription

// Apple's swift-openapi-generator, kept out of the main package so that neither the server nor
// IrisClient builds it: `scripts/generate-client.sh` builds it here, regenerates
// Sources/IrisClient/Generated from the server's openapi.yaml, and with --check fails when the
// committed code no longer matches the document (make test runs that).
let package = Package(
    name: "ClientGenerator",
    dependencies: [
        .package(url: "https://github.com/apple/swift-openapi-generator.git", exact: "1.14.3")
    ],
    targets: []
)
