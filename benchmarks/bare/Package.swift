// swift-tools-version:6.2
import PackageDescription

// The yardstick of benchmarks/run.sh: a bare Hummingbird 2 server with one route answering what
// Gatehouse's GET /health answers. Its own package, so the main build never carries it.
let package = Package(
    name: "Bare",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1")
    ],
    targets: [
        .executableTarget(
            name: "bare",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")]
        )
    ]
)
