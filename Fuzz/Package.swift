// swift-tools-version: 6.1
import PackageDescription

/// libFuzzer targets for every parser that takes bytes or text from a peer (docs/fuzzing.md).
///
/// A package of its own, so that executables without `main` (libFuzzer supplies it) never reach
/// the main package's `swift build --build-tests`. Build it only through `tools/fuzz build`, which
/// adds `-sanitize=fuzzer,address` (coverage and ASan on every Swift module, the parsers
/// included) and `-enable-testing` (the relay's demux lives in an internal class).
let harness: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + dependencies, path: "Sources/\(name)", swiftSettings: harness)
}

let package = Package(
    name: "showroom-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "showroom", path: ".."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
    ],
    targets: [
        .target(name: "FuzzSupport"),
        fuzzTarget("FuzzRTP", [.product(name: "MediaWire", package: "showroom")]),
        fuzzTarget("FuzzRTCP", [.product(name: "MediaWire", package: "showroom")]),
        fuzzTarget(
            "FuzzSTUN",
            [.product(name: "MediaWire", package: "showroom"), .product(name: "MediaCrypto", package: "showroom")]),
        fuzzTarget(
            "FuzzSDP", [.product(name: "MediaWire", package: "showroom"), .product(name: "Relay", package: "showroom")]),
        fuzzTarget("FuzzVP8", [.product(name: "MediaWire", package: "showroom")]),
        fuzzTarget("FuzzOpus", [.product(name: "MediaWire", package: "showroom")]),
        fuzzTarget(
            "FuzzRelay",
            [
                .product(name: "Relay", package: "showroom"), .product(name: "MediaWire", package: "showroom"),
                .product(name: "MediaCrypto", package: "showroom"), .product(name: "MediaPipeline", package: "showroom"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        fuzzTarget(
            "FuzzWS", [.product(name: "Signaling", package: "showroom"), .product(name: "Chat", package: "showroom")]),
        fuzzTarget(
            "FuzzJWT",
            [.product(name: "ShowroomServer", package: "showroom"), .product(name: "Crypto", package: "swift-crypto")]),
    ],
    swiftLanguageModes: [.v6]
)
