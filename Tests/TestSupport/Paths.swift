import Foundation

/// Where things are, for tests.
public enum Paths {
    /// The repository's root (found from this file's path).
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `gatehouse` executable built beside the test bundle.
    public static var gatehouse: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("gatehouse")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return root.appendingPathComponent(".build/debug/gatehouse")
    }

    /// The Python with the test helpers installed (`make test-deps` makes `.venv`).
    public static var python: String {
        ProcessInfo.processInfo.environment["TEST_PYTHON"] ?? root.appendingPathComponent(".venv/bin/python").path
    }

    /// A new empty folder, removed by the caller when done (or left for inspection).
    public static func temporaryDirectory(_ name: String = "gatehouse-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
