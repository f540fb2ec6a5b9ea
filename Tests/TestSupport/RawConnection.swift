import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A bare TCP connection to a loopback port, for tests that behave as no HTTP client would:
/// half a request, then silence.
public final class RawConnection: Sendable {
    let descriptor: Int32
    /// The socket's own port, to tell it from another socket that later got its descriptor.
    let localPort: Int

    /// Connects to 127.0.0.1:`port`.
    public init(port: Int) throws {
        guard let fd = try Self.open(port: port) else { throw TestFailure("connect() failed: connection refused") }
        descriptor = fd
        localPort = Self.localPort(of: fd) ?? -1
    }

    private init(descriptor: Int32) {
        self.descriptor = descriptor
        localPort = Self.localPort(of: descriptor) ?? -1
    }

    static func localPort(of fd: Int32) -> Int? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let found = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard found == 0, address.sin_family == sa_family_t(AF_INET) else { return nil }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether the descriptor still names this connection's socket. False when something else
    /// in the process closed it and the number went to another socket or file: then this
    /// socket is closed, by whoever did that.
    public var ownsItsSocket: Bool { Self.localPort(of: descriptor) == localPort }

    /// Connects to 127.0.0.1:`port`; nil when the connection is refused (nothing listens).
    public static func connect(port: Int) throws -> RawConnection? {
        try open(port: port).map { RawConnection(descriptor: $0) }
    }

    /// A socket connected to 127.0.0.1:`port`; nil when the connection is refused.
    private static func open(port: Int) throws -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let error = errno
            close(fd)
            if error == ECONNREFUSED { return nil }
            throw TestFailure("connect() failed: errno \(error)")
        }
        return fd
    }

    deinit { close(descriptor) }

    public func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
            throw TestFailure("send() failed: errno \(errno)")
        }
    }

    /// Whether the server has closed the connection: end of stream (or a reset) seen within
    /// `timeout` seconds. Bytes the server sent are read and dropped. It never blocks a thread
    /// (the server under test may share the process's few): it looks, then sleeps.
    public func isClosed(within timeout: Double = 0) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            while true {
                let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return true }
                if count < 0 { break }
            }
            if Date() >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// What came back for one request.
    public enum Reply: Sendable, Equatable {
        /// A whole response: its status, header fields (names in lower case) and body.
        case complete(status: Int, headers: [String: String], body: String)
        /// The connection ended (or was reset) before any byte of a response.
        case closedBeforeReply
        /// The connection ended partway through a response, after this many bytes.
        case cutShort(bytes: Int)
        /// No whole response within the time allowed; this many bytes had arrived.
        case timedOut(bytes: Int)
    }

    /// Reads one HTTP/1.1 response (its length from `Content-Length`), polling without blocking.
    public func readReply(within timeout: Double = 10) async -> Reply {
        let deadline = Date().addingTimeInterval(timeout)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 {
                received += buffer[0..<count]
                if let reply = Self.parse(received) { return reply }
                continue
            }
            if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                return received.isEmpty ? .closedBeforeReply : .cutShort(bytes: received.count)
            }
            if Date() >= deadline { return .timedOut(bytes: received.count) }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// A whole response at the start of `bytes`, if there is one.
    static func parse(_ bytes: [UInt8]) -> Reply? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.dropLast(3).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else {
            return nil
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(head[0].split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces
            )
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let body = bytes[(end + 4)...]
        guard body.count >= length else { return nil }
        return .complete(status: status, headers: headers, body: String(decoding: body.prefix(length), as: UTF8.self))
    }

    /// Raises this process's open-file limit to its hard limit (tests that hold many sockets).
    public static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

/// A loopback port that takes connections (the kernel completes them) and never says a word:
/// a mail server that has hung. With `listening: false` the port is only held: connections to
/// it are refused (a mail server that is down), and no one else can take it meanwhile.
public final class SilentListener: Sendable {
    let descriptor: Int32
    public let port: Int

    public init(listening: Bool = true) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && (!listening || listen(fd, 16) == 0)
                    && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw TestFailure("cannot listen: errno \(errno)")
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
