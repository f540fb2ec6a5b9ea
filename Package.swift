// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "Gatehouse",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gatehouse", targets: ["gatehouse"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(
            url: "https://github.com/apple/swift-configuration",
            from: "1.4.0",
            traits: [.defaults, "YAML"]
        ),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // MARK: System libraries
        .systemLibrary(name: "CArgon2", path: "Sources/CArgon2"),
        .systemLibrary(name: "CMaxMindDB", path: "Sources/CMaxMindDB"),
        .target(
            name: "CCurl",
            path: "Sources/CCurl",
            linkerSettings: [.linkedLibrary("curl")]
        ),

        // MARK: Core
        .target(
            name: "GatehouseCore",
            dependencies: [
                "CArgon2",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            resources: [.copy("Mail/Templates")]
        ),
        .target(
            name: "GatehouseStore",
            dependencies: [
                "GatehouseCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // PostgreSQL, for several processes on one database (`database.url`).
        .target(
            name: "GatehousePostgres",
            dependencies: [
                "GatehouseCore",
                "GatehouseStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Curl",
            dependencies: [
                "CCurl",
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "GatehouseHost",
            dependencies: [
                "GatehouseCore",
                "GatehouseStore",
                "GatehousePostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("Resources/openapi.yaml")]
        ),

        // MARK: Modules (one target per folder under Plugins/)
        .target(name: "AuthRoutes", dependencies: ["GatehouseCore"], path: "Plugins/AuthRoutes"),
        .target(name: "EcliPanelRoutes", dependencies: ["GatehouseCore"], path: "Plugins/EcliPanelRoutes"),
        .target(
            name: "StellarStackRoutes",
            dependencies: ["GatehouseCore", .product(name: "HTTPTypes", package: "swift-http-types")],
            path: "Plugins/StellarStackRoutes"
        ),
        .target(name: "ServerRoutes", dependencies: ["GatehouseCore"], path: "Plugins/ServerRoutes"),
        .target(name: "OperationsRoutes", dependencies: ["GatehouseCore"], path: "Plugins/OperationsRoutes"),
        .target(
            name: "Policies",
            dependencies: [
                "GatehouseCore",
                "CMaxMindDB",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Plugins/Policies"
        ),
        .target(
            name: "Mailers",
            dependencies: ["GatehouseCore", "Curl", .product(name: "Logging", package: "swift-log")],
            path: "Plugins/Mailers"
        ),
        // The modules that ship: the executable registers them (the core and host name none).
        .target(
            name: "StandardModules",
            dependencies: [
                "GatehouseCore", "AuthRoutes", "EcliPanelRoutes", "StellarStackRoutes", "ServerRoutes",
                "OperationsRoutes", "Policies", "Mailers",
            ],
            path: "Plugins/StandardModules"
        ),

        // MARK: Executable
        .executableTarget(
            name: "gatehouse",
            dependencies: [
                "GatehouseHost",
                "GatehousePostgres",
                "StandardModules",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests
        .target(
            name: "TestSupport",
            dependencies: [
                "Curl", "GatehouseCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "GatehouseCoreTests",
            dependencies: [
                "GatehouseCore", "TestSupport", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "GatehouseStoreTests",
            dependencies: [
                "GatehouseStore", "GatehousePostgres", "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CurlTests",
            dependencies: [
                "Curl", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(
            name: "GatehouseHostTests",
            dependencies: [
                "GatehouseHost", "GatehouseStore", "StandardModules", "Policies", "Mailers", "TestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "MailersTests", dependencies: ["Mailers", "TestSupport"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "gatehouse", "TestSupport", "GatehouseStore", "GatehouseCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ]
)
