import CCurl
import Foundation
import NIOPosix

/// A small client over libcurl easy handles. Every transfer blocks a thread of the client's own
/// pool, never an event loop or a thread of Swift's cooperative pool.
public final class Curl: Sendable {
    private let pool: NIOThreadPool

    /// Shared client for the process. Transfers wait on the network, not the CPU, so the pool
    /// is wide: it bounds how many deliveries can be in flight at once.
    public static let shared = Curl(threads: 32)

    private static let globalInit: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()

    public init(threads: Int) {
        _ = Self.globalInit
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    deinit {
        pool.shutdownGracefully { _ in }
    }

    /// Runs an HTTP(S) request.
    public func perform(_ request: CurlRequest) async throws -> CurlResponse {
        try await pool.runIfActive { try Transfer.http(request) }
    }

    /// Sends one message over SMTP.
    public func send(_ mail: SMTPSubmission) async throws -> SMTPResult {
        try await pool.runIfActive { try Transfer.smtp(mail) }
    }
}

public struct CurlRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    /// Whole-transfer limit, in seconds.
    public var timeout: Double

    public init(
        method: String = "GET",
        url: String,
        headers: [(String, String)] = [],
        body: [UInt8]? = nil,
        timeout: Double = 30
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

public struct CurlResponse: Sendable {
    public var status: Int
    /// Header fields in arrival order, names as the server sent them.
    public var headers: [(String, String)]
    public var body: [UInt8]

    /// The first value of a header, matched case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }
}

public struct SMTPSubmission: Sendable {
    public enum Security: String, Sendable, CaseIterable {
        /// Plain connection upgraded with STARTTLS, which is required.
        case starttls
        /// TLS from the first byte (SMTPS, usually port 465).
        case tls
        /// No encryption.
        case none
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: String?
    /// Envelope sender (bare address).
    public var from: String
    /// Envelope recipients (bare addresses).
    public var recipients: [String]
    /// The whole RFC 5322 message, CRLF line endings. libcurl does the dot-stuffing.
    public var message: [UInt8]
    public var timeout: Double
    /// A PEM bundle of CAs to trust instead of the system's (e.g. a private CA).
    public var caFile: String?

    public init(
        host: String,
        port: Int,
        security: Security,
        username: String? = nil,
        password: String? = nil,
        from: String,
        recipients: [String],
        message: [UInt8],
        timeout: Double = 30,
        caFile: String? = nil
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.from = from
        self.recipients = recipients
        self.message = message
        self.timeout = timeout
        self.caFile = caFile
    }
}

public struct SMTPResult: Sendable {
    /// The server's last reply code (250 on success).
    public var responseCode: Int
}
