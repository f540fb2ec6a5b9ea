import Foundation
import Synchronization

/// A process started by a test, with its output collected line by line.
public final class ChildProcess: Sendable {
    let process: Process
    private let buffer = OutputBuffer()

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil)
        throws
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GATEHOUSE_") }
        env.merge(environment) { $1 }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let input = Pipe()
        process.standardInput = input
        self.process = process
        pipe.fileHandleForReading.readabilityHandler = { [buffer] handle in
            let data = handle.availableData
            // At the end of the output the handler would be called again and again with
            // nothing: stop it there.
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            buffer.append(String(decoding: data, as: UTF8.self))
        }
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
    }

    public var lines: [String] { buffer.lines }
    public var text: String { lines.joined(separator: "\n") }
    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Waits (up to `timeout` seconds) for an output line containing `marker`; returns it.
    public func waitForLine(containing marker: String, timeout: Double = 30) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            // Whole lines only: a line still arriving may be cut short.
            if let line = buffer.completeLines.first(where: { $0.contains(marker) }) { return line }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("no line containing \"\(marker)\" within \(timeout) s; output:\n\(text)")
    }

    /// Counts the lines containing `marker` so far.
    public func count(_ marker: String) -> Int { lines.filter { $0.contains(marker) }.count }

    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to end (up to `timeout` seconds); returns its exit status.
    @discardableResult public func wait(timeout: Double = 30) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else {
                process.terminate()
                throw TestFailure("process did not exit within \(timeout) s; output:\n\(text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(50))  // let the last output arrive
        return process.terminationStatus
    }

    /// Ends the process: SIGTERM, then SIGKILL if it is still there after five seconds.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<100 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Output collected from a pipe, split into lines.
final class OutputBuffer: Sendable {
    private let state = Mutex<(lines: [String], partial: String)>(([], ""))

    func append(_ text: String) {
        state.withLock { state in
            var parts = (state.partial + text).components(separatedBy: "\n")
            state.partial = parts.removeLast()
            state.lines.append(contentsOf: parts)
        }
    }

    var lines: [String] {
        state.withLock { $0.lines + ($0.partial.isEmpty ? [] : [$0.partial]) }
    }

    /// The lines that ended with a newline.
    var completeLines: [String] { state.withLock { $0.lines } }
}
