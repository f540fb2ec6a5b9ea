import Foundation

/// A real SMTP server (aiosmtpd, `Tests/Support/smtp_server.py`) on a loopback port, saving
/// what it receives in a folder.
public final class SMTPServer: Sendable {
    public let port: Int
    public let maildir: URL
    let child: ChildProcess

    public struct Options: Sendable {
        public var auth: (user: String, password: String)?
        /// PEM certificate and key: offer STARTTLS, or speak TLS at once when `implicitTLS`.
        public var tls: (cert: String, key: String)?
        public var implicitTLS = false
        public var port = 0
        public init(
            auth: (user: String, password: String)? = nil,
            tls: (cert: String, key: String)? = nil,
            implicitTLS: Bool = false,
            port: Int = 0
        ) {
            self.auth = auth
            self.tls = tls
            self.implicitTLS = implicitTLS
            self.port = port
        }
    }

    public init(_ options: Options = Options()) async throws {
        maildir = try Paths.temporaryDirectory("smtp")
        var arguments = [
            Paths.root.appendingPathComponent("Tests/Support/smtp_server.py").path,
            "--port", String(options.port), "--maildir", maildir.path,
        ]
        if let auth = options.auth { arguments += ["--auth", "\(auth.user):\(auth.password)"] }
        if let tls = options.tls { arguments += ["--tls-cert", tls.cert, "--tls-key", tls.key] }
        if options.implicitTLS { arguments.append("--implicit-tls") }
        child = try ChildProcess(Paths.python, arguments)
        // The generous wait: at the start of a full run many processes start at once on two cores.
        let line = try await child.waitForLine(containing: "READY")
        guard let port = Int(line.split(separator: " ").last ?? "") else {
            throw TestFailure("bad READY line: \(line)")
        }
        self.port = port
    }

    public struct Received: Sendable {
        /// The message as it arrived (CRLF line endings).
        public var raw: String
        public var envelopeFrom: String
        public var envelopeTo: [String]
        public var authenticatedAs: String?
    }

    /// Every message received so far, in order.
    public func messages() throws -> [Received] {
        let files = try FileManager.default.contentsOfDirectory(atPath: maildir.path)
            .filter { $0.hasSuffix(".eml") }
            .sorted { Int($0.dropLast(4))! < Int($1.dropLast(4))! }
        return try files.map { file in
            let base = maildir.appendingPathComponent(String(file.dropLast(4)))
            let raw = try String(contentsOf: base.appendingPathExtension("eml"), encoding: .utf8)
            let envelope =
                try JSONSerialization.jsonObject(with: Data(contentsOf: base.appendingPathExtension("json")))
                as! [String: Any]
            return Received(
                raw: raw,
                envelopeFrom: envelope["from"] as! String,
                envelopeTo: envelope["to"] as! [String],
                authenticatedAs: envelope["auth"] as? String
            )
        }
    }

    /// Waits until at least `count` messages arrived.
    public func waitForMessages(_ count: Int, timeout: Double = eventualTimeout) async throws -> [Received] {
        var received: [Received] = []
        if try await eventually(
            timeout: timeout,
            {
                received = try messages(); return received.count >= count
            }
        ) {
            return received
        }
        throw TestFailure("expected \(count) messages within \(Int(timeout)) s, got \(received.count)")
    }

    public func stop() { child.stop() }

    deinit { child.stop() }
}

/// A throw-away self-signed certificate for 127.0.0.1/localhost, made with openssl.
public struct TestCertificate: Sendable {
    public let cert: String
    public let key: String

    public init() throws {
        let dir = try Paths.temporaryDirectory("cert")
        cert = dir.appendingPathComponent("cert.pem").path
        key = dir.appendingPathComponent("key.pem").path
        let (status, output) = try Spawned.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert,
            ]
        )
        guard status == 0 else { throw TestFailure("openssl failed: \(output)") }
    }
}
