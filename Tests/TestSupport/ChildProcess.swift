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
        try process.run()
        // The output is read by a thread of its own with plain read(2) until its end, and the
        // descriptor closed once, here. (FileHandle's readabilityHandler is called again and
        // again at the end of the output, and what Foundation does with the descriptor when it
        // is cleared from inside is not something to build tests on.)
        let output = pipe.fileHandleForReading
        Thread.detachNewThread { [buffer] in
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = read(output.fileDescriptor, &chunk, chunk.count)
                if count > 0 {
                    buffer.append(String(decoding: chunk[0..<count], as: UTF8.self))
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            try? output.close()
        }
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
