// swift-tools-version:5.10
// The scheduler core builds and tests anywhere Swift runs (`swift test`, Linux included); the Core ML runner
// and the SwiftUI screens compile to empty modules where Core ML or SwiftUI is missing.
import PackageDescription

let package = Package(
    name: "LazyDiT",
    platforms: [.iOS("18.0"), .macOS("15.0")],
    products: [
        .library(name: "LazyDiTCore", targets: ["LazyDiTCore"]),
        .library(name: "LazyDiTCoreML", targets: ["LazyDiTCoreML"]),
        .library(name: "LazyDiTDemoUI", targets: ["LazyDiTDemoUI"]),
    ],
    targets: [
        .target(name: "LazyDiTCore"),
        .target(name: "LazyDiTCoreML", dependencies: ["LazyDiTCore"]),
        .target(name: "LazyDiTDemoUI", dependencies: ["LazyDiTCore", "LazyDiTCoreML"]),
        // Fixtures are read from the source tree (see FixturePaths.swift), never copied or compiled: the
        // .mlpackage inside them must not be turned into generated model classes by Xcode.
        .testTarget(name: "LazyDiTCoreTests", dependencies: ["LazyDiTCore"], exclude: ["Fixtures"]),
        .testTarget(name: "LazyDiTCoreMLTests", dependencies: ["LazyDiTCore", "LazyDiTCoreML"]),
    ]
)
