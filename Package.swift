// swift-tools-version: 6.1
import PackageDescription

/// Showroom: one target per layer; lower layers never import higher ones (see docs/architecture.md).
let package = Package(
    name: "showroom",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "showroom", targets: ["showroom"]),
        .executable(name: "showroom-netsim", targets: ["showroom-netsim"]),
        .executable(name: "showroom-load", targets: ["showroom-load"]),
        .library(name: "MediaWire", targets: ["MediaWire"]),
        .library(name: "MediaPipeline", targets: ["MediaPipeline"]),
        // For the fuzz package in Fuzz/ (a separate package that depends on this one by path).
        .library(name: "MediaCrypto", targets: ["MediaCrypto"]),
        .library(name: "Relay", targets: ["Relay"]),
        .library(name: "Chat", targets: ["Chat"]),
        .library(name: "Signaling", targets: ["Signaling"]),
        .library(name: "PostgresStores", targets: ["PostgresStores"]),
        .library(name: "ShowroomServer", targets: ["ShowroomServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.25.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.1.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        // Already in the graph (Hummingbird's testing uses it); the desk's forwarding between nodes.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.21.0"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // MARK: C libraries, each behind a system-library target with a shim header.
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CVPX", pkgConfig: "vpx", providers: [.apt(["libvpx-dev"])]),
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CYUV", providers: [.apt(["libyuv-dev"])]),

        // MARK: Layers, bottom up.
        .target(name: "ShowroomCore"),
        .target(name: "MediaWire", dependencies: ["ShowroomCore"]),
        .target(name: "MediaCrypto", dependencies: ["ShowroomCore", "CSRTP", "COpenSSL"]),
        .target(name: "MediaCodecs", dependencies: ["ShowroomCore", "MediaWire", "COpus", "CVPX", "CYUV"]),
        .target(name: "MediaPipeline", dependencies: ["MediaWire", "MediaCodecs"]),
        .target(
            name: "Relay",
            dependencies: [
                "ShowroomCore", "MediaWire", "MediaCrypto", "MediaPipeline",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // Chat: messages as values, the store protocol and its SQLite (GRDB) implementation.
        .target(name: "Chat", dependencies: ["ShowroomCore", .product(name: "GRDB", package: "GRDB.swift")]),
        // Desk: consultations, the bot, the queue and routing to agents, reports and forecasts —
        // rules as I/O-free types fed events and a clock; their store protocol and its SQLite store.
        .target(
            name: "Desk", dependencies: ["ShowroomCore", .product(name: "GRDB", package: "GRDB.swift")],
            resources: [.copy("Bot/SampleFAQ.json")]),
        // Assist: what helps an agent sell — the script library and guided flows, the catalog and
        // shopper profiles, recommendations, live hints, conversion attribution and outgoing
        // webhooks; I/O-free types and their SQLite store (docs/assist.md).
        .target(name: "Assist", dependencies: ["ShowroomCore", "COpenSSL", .product(name: "GRDB", package: "GRDB.swift")]),
        // PostgresStores: the chat, desk, assist and catalog stores on PostgreSQL (postgres-nio), for
        // several nodes sharing one database (docs/cluster.md); SQLite stays the embedded default.
        .target(
            name: "PostgresStores",
            dependencies: [
                "Chat", "Desk", "Assist",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Signaling: the /ws protocol's messages and the per-room hub (presence, chat fan-out, resume).
        .target(name: "Signaling", dependencies: ["ShowroomCore", "Chat"]),
        .target(
            name: "ShowroomServer",
            dependencies: [
                "MediaWire", "MediaCrypto", "MediaPipeline", "Relay", "Chat", "Signaling", "Desk", "Assist", "PostgresStores", "COpenSSL",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            resources: [.copy("Web"), .copy("Demo")]
        ),
        .executableTarget(
            name: "showroom",
            dependencies: [
                "ShowroomServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Tests mirror Sources.
        .target(name: "ShowroomTestSupport", path: "Tests/ShowroomTestSupport"),
        .testTarget(name: "MediaWireTests", dependencies: ["MediaWire", "ShowroomTestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "MediaCryptoTests", dependencies: ["MediaCrypto", "MediaWire", "COpenSSL", "ShowroomTestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(name: "MediaCodecsTests", dependencies: ["MediaCodecs", "MediaWire", "ShowroomTestSupport"]),
        .testTarget(name: "ChatTests", dependencies: ["Chat", "Signaling", "ShowroomCore"]),
        .testTarget(name: "AssistTests", dependencies: ["Assist", "ShowroomTestSupport"]),
        // One suite for every store protocol, run against SQLite and against a throw-away PostgreSQL.
        .testTarget(
            name: "StoreConformanceTests",
            dependencies: ["Chat", "Desk", "Assist", "PostgresStores", "ShowroomTestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "DeskTests", dependencies: ["Desk", "DeskSimulation", "ShowroomTestSupport"]),
        // A seeded discrete-event model of a department's queue: the reference the desk's wait
        // estimate and staffing are checked against (DeskTests, DeskBenchmark).
        .target(name: "DeskSimulation", dependencies: ["Desk", "ShowroomTestSupport"], path: "Tests/DeskSimulation"),
        .testTarget(
            name: "MediaPipelineTests", dependencies: ["MediaPipeline", "MediaWire", "MediaCodecs", "ShowroomTestSupport"]),
        .testTarget(
            name: "RelayTests", dependencies: ["Relay", "MediaWire", "MediaCrypto", "ShowroomTestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "ShowroomServerTests",
            dependencies: [
                "ShowroomServer", "Chat", "Signaling", "Desk", "Assist",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),

        // MARK: Benchmarks (package-benchmark): `swift package benchmark`.
        .executableTarget(
            name: "MediaBenchmarks",
            dependencies: [
                "MediaWire", "MediaCrypto", "MediaCodecs", "MediaPipeline",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/MediaBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // showroom-netsim: a userspace UDP impairment relay (this kernel has no netem).
        .target(name: "NetworkImpairment", path: "tools/netsim/NetworkImpairment"),
        .executableTarget(
            name: "showroom-netsim",
            dependencies: ["NetworkImpairment", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "tools/netsim/showroom-netsim"
        ),
        .testTarget(name: "NetworkImpairmentTests", dependencies: ["NetworkImpairment", "ShowroomTestSupport"]),
        // The client side of WebRTC from the project's own parts, for showroom-load: offer,
        // ICE/DTLS handshake, looped encoded media, a measuring receiver, a SwiftNIO peer.
        .target(
            name: "WebRTCClient",
            dependencies: [
                "MediaWire", "MediaCrypto", "MediaCodecs", "MediaPipeline",
                // RFC4571FrameDecoder: ICE-TCP framed as the relay frames it.
                "Relay",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "tools/load/WebRTCClient"
        ),
        .testTarget(
            name: "WebRTCClientTests",
            dependencies: [
                "WebRTCClient", "MediaWire", "MediaCrypto", "MediaPipeline", "Relay", "ShowroomTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ]),
        // showroom-load: a load test over the real protocols, latency first.
        .executableTarget(
            name: "showroom-load",
            dependencies: [
                "ShowroomServer", "WebRTCClient", "Desk",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "tools/load/showroom-load"
        ),
        // The chat benchmark: many /ws connections against the release `showroom` binary.
        .executableTarget(
            name: "ChatBenchmark",
            dependencies: [
                "ShowroomServer",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/ChatBenchmark"
        ),
        // The desk's numbers in a release build: `swift run -c release DeskBenchmark` (forecast and
        // staffing timings on a year of history, wait-estimate errors, the staffing check).
        .executableTarget(
            name: "DeskBenchmark", dependencies: ["Desk", "DeskSimulation"], path: "Benchmarks/DeskBenchmark"),
        // Agent assist's numbers in a release build: `swift run -c release AssistBenchmark`
        // (catalog import, recommendation latency on 100,000 products and 1,000,000 events, hint rules).
        .executableTarget(name: "AssistBenchmark", dependencies: ["Assist"], path: "Benchmarks/AssistBenchmark"),
        // The relay benchmark: real SRTP peers over loopback UDP, `swift run -c release RelayBenchmark`.
        .executableTarget(
            name: "RelayBenchmark",
            dependencies: [
                "Relay", "MediaWire", "MediaCrypto", "WebRTCClient",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/RelayBenchmark"
        ),
    ],
    swiftLanguageModes: [.v6]
)
