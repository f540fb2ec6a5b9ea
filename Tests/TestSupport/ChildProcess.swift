import Foundation
import Synchronization

/// A process started by a test, with its output collected line by line.
public final class ChildProcess: Sendable {
    let process: Spawned
    private let buffer = OutputBuffer()

    /// What every child gets unless its test sets otherwise. The suites share two cores, where a
    /// Gatehouse's hashing thread (at nice 10) can wait past the 3 s a server sheds after while
    /// other suites keep the cores busy: a hash here may wait 20 s (the shedding has its own tests).
    public static let defaultEnvironment = ["GATEHOUSE_PASSWORD_HASHING_MAX_WAIT": "20000"]

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil)
        throws
    {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GATEHOUSE_") }
        env.merge(Self.defaultEnvironment) { $1 }
        env.merge(environment) { $1 }
        let process = try Spawned(executable, arguments, environment: env)
        self.process = process
        // The output is read by a thread of its own with plain read(2) until its end.
        let output = process.output
        Thread.detachNewThread { [buffer] in
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = read(output, &chunk, chunk.count)
                if count > 0 {
                    buffer.append(chunk[0..<count])
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            close(output)
            buffer.finish()
        }
        process.closeInput(writing: stdin)
    }

    public var lines: [String] { buffer.lines }
    public var text: String { lines.joined(separator: "\n") }
    public var pid: Int32 { process.pid }
    public var isRunning: Bool { process.isRunning }

    /// Waits (up to `timeout` seconds) for an output line containing `marker`; returns it.
    public func waitForLine(containing marker: String, timeout: Double = eventualTimeout) async throws -> String {
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

    public func signal(_ signal: Int32) { kill(process.pid, signal) }

    /// Waits for the process to end (up to `timeout` seconds); returns its exit status.
    @discardableResult public func wait(timeout: Double = eventualTimeout) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let status = process.exitStatus() {
                // Let the last output arrive: the reader sees the pipe's end (a child the process
                // left running may hold the pipe open; it is not waited for long).
                try await eventually(timeout: 10, every: .milliseconds(10)) { buffer.isFinished }
                return status
            }
            guard Date() < deadline else {
                kill(process.pid, SIGTERM)
                throw TestFailure("process did not exit within \(timeout) s; output:\n\(text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Ends the process: SIGTERM, then SIGKILL if it is still there after five seconds.
    public func stop() {
        guard process.isRunning else { return }
        kill(process.pid, SIGTERM)
        for _ in 0..<100 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(process.pid, SIGKILL) }
    }
}

/// Output collected from a pipe, split into lines. Bytes are kept until their line ends, so a
/// character split between two reads is decoded whole.
final class OutputBuffer: Sendable {
    private let state = Mutex<(lines: [String], partial: [UInt8], finished: Bool)>(([], [], false))

    func append(_ bytes: ArraySlice<UInt8>) {
        state.withLock { state in
            state.partial.append(contentsOf: bytes)
            var start = state.partial.startIndex
            while let newline = state.partial[start...].firstIndex(of: UInt8(ascii: "\n")) {
                state.lines.append(String(decoding: state.partial[start..<newline], as: UTF8.self))
                start = newline + 1
            }
            state.partial.removeSubrange(..<start)
        }
    }

    /// The pipe ended: everything the process wrote is here.
    func finish() { state.withLock { $0.finished = true } }

    var isFinished: Bool { state.withLock { $0.finished } }

    var lines: [String] {
        state.withLock { $0.lines + ($0.partial.isEmpty ? [] : [String(decoding: $0.partial, as: UTF8.self)]) }
    }

    /// The lines that ended with a newline.
    var completeLines: [String] { state.withLock { $0.lines } }
}
