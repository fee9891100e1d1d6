import LazyDiTDemoUI
import SwiftUI

/// The app target is only this entry point: screens, Core ML runner and scheduler live in the Swift package
/// (ios_demo/Package.swift) so that `swift build` and `swift test` check them without Xcode.
@main
struct LazyDiTDemoApp: App {
    var body: some Scene {
        WindowGroup {
            DemoRootView()
        }
    }
}
