import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn`. (Foundation's `Process.run` reads past the end of
/// a directory entry while it looks for the highest open descriptor, and crashed the test
/// process now and then when many descriptors were open: swift-corelibs-foundation #5472, not in
/// this toolchain.) Its standard output and error go to one pipe the caller reads; in the child
/// every other descriptor is closed.
public final class Spawned: Sendable {
    /// glibc's `pipe2` and `posix_spawn_file_actions_addclosefrom_np`, which the Glibc module
    /// does not declare (they need _GNU_SOURCE): looked up once by name.
    private static let pipe2 = unsafeBitCast(
        dlsym(nil, "pipe2"),
        to: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32).self
    )
    /// (glibc 2.34 and later; without it, the O_CLOEXEC pipes are still not inherited.)
    private static let addCloseFrom = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
        unsafeBitCast($0, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }

    public let pid: pid_t
    /// The read end of the child's standard output and error.
    let output: Int32
    /// The write end of the child's standard input (closed once written).
    private let input: Mutex<Int32?>
    /// The exit status once the child is reaped.
    private let status = Mutex<Int32?>(nil)

    public init(_ executable: String, _ arguments: [String], environment: [String: String]) throws {
        // A child that ends before its input is written must not take the test process with it.
        signal(SIGPIPE, SIG_IGN)
        var outputPipe: [Int32] = [0, 0]
        var inputPipe: [Int32] = [0, 0]
        guard Self.pipe2(&outputPipe, O_CLOEXEC) == 0 else {
            throw TestFailure("pipe2: \(String(cString: strerror(errno)))")
        }
        guard Self.pipe2(&inputPipe, O_CLOEXEC) == 0 else {
            close(outputPipe[0])
            close(outputPipe[1])
            throw TestFailure("pipe2: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inputPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 2)
        _ = Self.addCloseFrom?(&actions, 3)
        // The child starts with no signal blocked and every handler at its default (the test
        // threads block signals, and SIGPIPE is ignored here), as a process started from a
        // shell would: a SIGTERM reaches it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        sigdelset(&everySignal, SIGKILL)
        sigdelset(&everySignal, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(inputPipe[0])
        close(outputPipe[1])
        guard result == 0 else {
            close(inputPipe[1])
            close(outputPipe[0])
            throw TestFailure("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
        self.output = outputPipe[0]
        self.input = Mutex(inputPipe[1])
    }

    /// Writes `text` to the child's standard input, then closes it.
    public func closeInput(writing text: String? = nil) {
        guard
            let descriptor = input.withLock({ value -> Int32? in
                defer { value = nil }
                return value
            })
        else { return }
        if let text {
            var bytes = Array(text.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { break }
                bytes = bytes.dropFirst(written)
            }
        }
        close(descriptor)
    }

    /// The exit status if the child has ended (reaping it), else nil. A child ended by a signal
    /// reports the signal's number.
    public func exitStatus() -> Int32? {
        status.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
            let signal = raw & 0x7f
            status = signal == 0 ? (raw >> 8) & 0xff : signal
            return status
        }
    }

    public var isRunning: Bool { exitStatus() == nil }

    /// Reads the output until its end (the child closed it, usually by ending), in this thread.
    public func readAll() -> String {
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(output, &chunk, chunk.count)
            if count > 0 {
                data += chunk[0..<count]
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(output)
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `executable` to its end: its exit status and its output (standard output and error).
    public static func run(
        _ executable: String,
        _ arguments: [String],
        input: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> (status: Int32, output: String) {
        let child = try Spawned(executable, arguments, environment: environment)
        child.closeInput(writing: input)
        let output = child.readAll()
        while true {
            if let status = child.exitStatus() { return (status, output) }
            usleep(2000)
        }
    }

    deinit {
        closeInput()
        if exitStatus() == nil {
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            waitpid(pid, &raw, 0)
        }
    }
}
