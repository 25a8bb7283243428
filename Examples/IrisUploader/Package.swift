// swift-tools-version:6.1
import PackageDescription

// A sample app over IrisClient: pick photos, label them, upload them with progress; the queue
// keeps them through lost networks and restarts. Builds on macOS only (SwiftUI, PhotosUI).
let package = Package(
    name: "IrisUploader",
    platforms: [.iOS(.v17), .macOS(.v14)],
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(
            name: "IrisUploader",
            dependencies: [.product(name: "IrisClient", package: "iris")]
        )
    ]
)
