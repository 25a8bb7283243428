// swift-tools-version:6.1
import PackageDescription

/// One set of settings for every target (STYLE.md §8).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "iris",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "iris", targets: ["iris"]),
        .library(name: "IrisServer", targets: ["IrisServer"]),
        .library(name: "IrisServices", targets: ["IrisServices"]),
        // For apps: Foundation, URLSession and the OpenAPI runtime only (no server code).
        .library(name: "IrisClient", targets: ["IrisClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Already built for HummingbirdTesting; the server uses it to deliver webhooks.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // Already built for Hummingbird; the header timeout handler reads its HTTP parts.
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // IrisClient's generated calls (swift-openapi-generator's output is committed).
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/apple/swift-openapi-urlsession.git", from: "1.4.0"),
    ],
    targets: [
        // libvips from Debian's libvips-dev; the module map and shim header are ours.
        .systemLibrary(
            name: "CVips", pkgConfig: "vips", providers: [.apt(["libvips-dev", "libjpeg-dev", "liblcms2-dev"])]),
        // zlib from Debian's zlib1g-dev, for reading zip archives; the module map and shim are ours.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "IrisCore",
            dependencies: [],
            swiftSettings: swiftSettings
        ),
        // Exemplar-based repair (PatchMatch + EM voting), Iris's own C; optimised in debug
        // builds too, because the tests repair real photos.
        .target(name: "CRepair", cSettings: [.unsafeFlags(["-O2"])], linkerSettings: [.linkedLibrary("m")]),
        .target(
            name: "IrisImaging",
            dependencies: ["CVips", "CRepair", "IrisCore"],
            swiftSettings: swiftSettings
        ),
        // ONNX Runtime's C ABI, declared by Iris (see the header); the library is opened at run time.
        .target(name: "CONNXRuntime", linkerSettings: [.linkedLibrary("dl")]),
        .target(
            name: "IrisML",
            dependencies: [
                "CONNXRuntime", "IrisCore", "IrisImaging",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "IrisBlobs",
            dependencies: [
                "CZlib", "IrisCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "IrisStore",
            dependencies: [
                "IrisCore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The work Iris does, without HTTP: settings, the composition of dependencies, ingest,
        // the job runtime and handlers, analysis, learning, webhooks, operations.
        .target(
            name: "IrisServices",
            dependencies: [
                "IrisCore", "IrisStore", "IrisBlobs", "IrisImaging", "IrisML",
                .product(name: "Crypto", package: "swift-crypto"),
                // bcrypt alone (CBcrypt): no Hummingbird comes with it.
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP delivery: API controllers, web pages, middleware, access control.
        .target(
            name: "IrisServer",
            dependencies: [
                "IrisCore", "IrisStore", "IrisBlobs", "IrisImaging", "IrisML", "IrisServices",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        // The benchmarks `make bench` runs in-process (`iris jobs|models|learn bench`); their
        // drivers and baselines sit beside them in Benchmarks/.
        .target(
            name: "IrisBenchmarks",
            dependencies: [
                "IrisCore", "IrisStore", "IrisBlobs", "IrisImaging", "IrisML", "IrisServices",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLKit", package: "sql-kit"),
            ],
            path: "Benchmarks/IrisBenchmarks",
            swiftSettings: swiftSettings
        ),
        // The Swift client apps use: the calls generated from openapi.yaml
        // (scripts/generate-client.sh), conveniences and the offline upload queue.
        .target(
            name: "IrisClient",
            dependencies: [
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIURLSession", package: "swift-openapi-urlsession"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command-line implementations: `serve` (through IrisServer) and the local tools.
        .target(
            name: "IrisCommands",
            dependencies: [
                "IrisCore", "IrisStore", "IrisBlobs", "IrisImaging", "IrisML", "IrisServices", "IrisServer",
                "IrisBenchmarks", "IrisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "iris",
            dependencies: [
                "IrisCommands", "IrisServer", "IrisServices", "IrisClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "IrisTesting",
            dependencies: [
                "CZlib", "IrisServer", "IrisServices", "IrisImaging", "IrisStore", "IrisBlobs", "IrisML",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLKit", package: "sql-kit"),
            ],
            path: "Tests/IrisTesting",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IrisCoreTests",
            dependencies: ["IrisCore", "IrisTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IrisBlobsTests",
            dependencies: ["IrisBlobs", "IrisTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IrisImagingTests",
            dependencies: ["IrisCore", "IrisImaging", "IrisTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IrisMLTests",
            dependencies: ["IrisML", "IrisImaging", "IrisTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IrisClientTests",
            dependencies: [
                "IrisClient", "IrisServices", "IrisTesting",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IrisStoreTests",
            dependencies: ["IrisStore", "IrisTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IrisServicesTests",
            dependencies: ["IrisServices", "IrisML", "IrisStore", "IrisCore", "IrisTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IrisServerTests",
            dependencies: [
                "IrisCommands", "IrisServer", "IrisServices", "IrisClient", "IrisTesting",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
