import Foundation

/// The settings the core itself reads: everything outside the modules' own sections.
///
/// Keys and defaults are those of CONTRACT §8; `etc/gatehouse.yaml` documents each one.
public struct CoreSettings: Sendable, Equatable {
    public struct Server: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var secureCookies: Bool
        /// Addresses (or CIDR ranges) whose `X-Forwarded-For` and country headers are believed.
        public var trustedProxies: [IPRange]
        /// Origins (`scheme://host[:port]`) whose pages may send cookie-authenticated writes,
        /// and where a client's callback URLs may point. Default: the origin of `mail.panelURL`.
        public var allowedOrigins: [String]
        /// Seconds a request's head and body may take to arrive, from its first byte.
        public var readTimeout: Int
        /// Seconds a kept-alive connection may sit idle between requests.
        public var idleTimeout: Int
        /// Open connections at most; more are closed as they arrive. nil: sized at start to the
        /// process's descriptor limit.
        public var maxConnections: Int?
        /// Seconds a SIGTERM or SIGINT may take to end the process cleanly (in-flight requests
        /// answered, outbox lanes stopped, database closed); past it the process exits non-zero.
        public var shutdownTimeout: Int
    }

    public struct Database: Sendable, Equatable {
        public var path: String
        /// How long a writer waits for the lock before giving up, in seconds.
        public var busyTimeout: Int
        /// The server's secret key (seals TOTP secrets, hashes backup codes); created on first
        /// start. Default: the database path with `.key` appended; required with `url`.
        public var keyFile: String
        /// A PostgreSQL server to keep the data in instead of the SQLite file at `path`.
        public var url: DatabaseURL?
        /// How the connection to `url` is protected.
        public var tls: TLS
        /// The CA certificates (PEM) the server's certificate must chain to, for `require` and
        /// `verify-full`; nil: the system's.
        public var caFile: String?

        /// Where the data is, for messages: the SQLite file, or the server without its password.
        public var description: String { url?.redacted ?? path }

        public enum TLS: String, Sendable, Equatable, CaseIterable {
            /// Plain TCP (a server on loopback or a private network).
            case disable
            /// TLS, the certificate checked against the CA but not the host name.
            case require
            /// TLS, the certificate checked against the CA and the host name.
            case verifyFull = "verify-full"
        }
    }

    /// The Prometheus listener (`metrics.*`): its own address, loopback by default, so metrics
    /// are never public by accident.
    public struct Metrics: Sendable, Equatable {
        public var enabled: Bool
        public var host: String
        public var port: Int
    }

    public struct PasswordHashing: Sendable, Equatable {
        public var argon2: Argon2Parameters
        /// Threads, queue and wait of the hashing pool.
        public var limits: HashingLimits
    }

    public var server: Server
    public var database: Database
    /// Module ids to load, in order (policies run in this order).
    public var modules: [String]
    public var sessions: SessionSettings
    public var passwordHashing: PasswordHashing
    public var plans: [PortalType: PlanLimits]
    public var adultAges: AdultAges
    public var mail: MailSettings
    public var logLevel: String
    /// `log.format`: lines for people, or one JSON object per line for a collector.
    public var logFormat: LogFormat = .text
    public var metrics = Metrics(enabled: true, host: "127.0.0.1", port: 9464)
    /// Audit events older than this many days are deleted by the hourly sweep.
    public var auditRetentionDays: Int

    /// Reads and validates the core's keys from the root of the config.
    public static func read(_ root: ConfigSection, defaultModules: [String]) throws -> CoreSettings {
        let server = root.section("server")
        let port = try server.int("port", default: 8080, in: 0...65535)
        let proxies = try server.stringList("trustedProxies", default: []).map { text in
            guard let range = IPRange(text) else {
                throw server.issue("trustedProxies", "\"\(text)\" is not an IP address or CIDR range")
            }
            return range
        }
        let mail = try MailSettings.read(root.section("mail"))
        let origins = try server.stringList("allowedOrigins", default: [Origin.of(mail.panelURL) ?? ""]).map { text in
            guard let origin = Origin.of(text) else {
                throw server.issue("allowedOrigins", "\"\(text)\" is not an origin (scheme://host[:port])")
            }
            return origin
        }
        let maxConnections = try server.int("maxConnections", default: 0, in: 0...10_000_000)
        let serverSettings = Server(
            host: try server.string("host", default: "0.0.0.0"),
            port: port,
            secureCookies: try server.bool("secureCookies", default: false),
            trustedProxies: proxies,
            allowedOrigins: origins,
            readTimeout: try server.int("readTimeout", default: 10, in: 1...3600),
            idleTimeout: try server.int("idleTimeout", default: 60, in: 1...86400),
            maxConnections: maxConnections == 0 ? nil : maxConnections,
            shutdownTimeout: try server.int("shutdownTimeout", default: 10, in: 1...3600)
        )

        let database = root.section("database")
        let path = try database.string("path", default: "./data/gatehouse.sqlite")
        guard !path.isEmpty else { throw database.issue("path", "must not be empty") }
        let keyFile = try database.string("keyFile", default: "")
        var url: DatabaseURL?
        if let text = try database.optionalString("url", isSecret: true), !text.isEmpty {
            do { url = try DatabaseURL(parsing: text) } catch { throw database.issue("url", error.description) }
            // Every process on the database must seal with the same key: it has to be named.
            guard !keyFile.isEmpty else {
                throw database.issue(
                    "keyFile",
                    "is required when database.url is set (every process needs the same key)"
                )
            }
        }
        let caFile = try database.optionalString("caFile")
        if let caFile, !caFile.isEmpty, !FileManager.default.isReadableFile(atPath: caFile) {
            throw database.issue("caFile", "cannot read \(caFile)")
        }
        let databaseSettings = Database(
            path: path,
            busyTimeout: try database.int("busyTimeout", default: 5, in: 0...600),
            keyFile: keyFile.isEmpty ? path + ".key" : keyFile,
            url: url,
            tls: try database.choice("tls", default: Database.TLS.require),
            caFile: caFile?.isEmpty == false ? caFile : nil
        )

        let modules = try root.stringList("modules", default: defaultModules)
        var seen: Set<String> = []
        for id in modules where !seen.insert(id).inserted {
            throw root.issue("modules", "\"\(id)\" is listed twice")
        }

        let sessions = root.section("sessions")
        let sessionSettings = SessionSettings(
            lifetime: TimeInterval(try sessions.int("lifetime", default: 7 * 24 * 3600, in: 60...(365 * 24 * 3600))),
            maxPerUser: try sessions.int("maxPerUser", default: 20, in: 1...1000)
        )

        let hashing = root.section("passwordHashing")
        let argon2 = Argon2Parameters(
            memoryKiB: try hashing.int(
                "memory",
                default: Argon2Parameters.default.memoryKiB,
                in: 19 * 1024...4 * 1024 * 1024
            ),
            iterations: try hashing.int("iterations", default: Argon2Parameters.default.iterations, in: 2...100),
            parallelism: try hashing.int("parallelism", default: Argon2Parameters.default.parallelism, in: 1...64)
        )
        let hashingSettings = PasswordHashing(
            argon2: argon2,
            limits: try {
                let threads = try hashing.int("threads", default: HashingLimits.default.threads, in: 1...256)
                return HashingLimits(
                    threads: threads,
                    queueLimit: try hashing.int("queueLimit", default: 64 * threads, in: 1...100_000),
                    maxWait: .milliseconds(try hashing.int("maxWait", default: 3000, in: 10...60_000))
                )
            }()
        )

        var plans: [PortalType: PlanLimits] = [:]
        for type in PortalType.allCases {
            plans[type] = try PlanLimits.read(
                root.section("plans.\(type.rawValue)"),
                defaults: PlanLimits.defaults[type]!
            )
        }

        let logLevel = try root.section("log").choice("level", default: LogLevel.info).rawValue
        let logFormat = try root.section("log").choice("format", default: LogFormat.text)
        let metricsSection = root.section("metrics")
        let metrics = Metrics(
            enabled: try metricsSection.bool("enabled", default: true),
            host: try metricsSection.string("host", default: "127.0.0.1"),
            port: try metricsSection.int("port", default: 9464, in: 0...65535)
        )

        return CoreSettings(
            server: serverSettings,
            database: databaseSettings,
            modules: modules,
            sessions: sessionSettings,
            passwordHashing: hashingSettings,
            plans: plans,
            adultAges: try AdultAges.read(root.section("policies.age")),
            mail: mail,
            logLevel: logLevel,
            logFormat: logFormat,
            metrics: metrics,
            auditRetentionDays: try root.section("audit").int("retentionDays", default: 365, in: 1...36500)
        )
    }

    enum LogLevel: String, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    public enum LogFormat: String, CaseIterable, Sendable {
        case text, json
    }

    /// The keys whose change takes a restart, among those that differ from `old`. A reload
    /// that changes any of them is refused.
    public func restartRequired(comparedWith old: CoreSettings) -> [String] {
        var changed: [String] = []
        if server.host != old.server.host { changed.append("server.host") }
        if server.port != old.server.port { changed.append("server.port") }
        if logFormat != old.logFormat { changed.append("log.format") }
        if metrics != old.metrics { changed.append("metrics") }
        if server.readTimeout != old.server.readTimeout { changed.append("server.readTimeout") }
        if server.idleTimeout != old.server.idleTimeout { changed.append("server.idleTimeout") }
        if server.maxConnections != old.server.maxConnections { changed.append("server.maxConnections") }
        if database != old.database { changed.append("database") }
        if passwordHashing != old.passwordHashing { changed.append("passwordHashing") }
        return changed
    }
}

/// Web origins, as browsers send them in `Origin`: `scheme://host[:port]`, lower case, without a
/// default port.
public enum Origin {
    /// The origin of an http(s) URL, or nil when it has none.
    /// A URL with a backslash, a control character, a space or a user part has none: parsers
    /// disagree on where such a URL goes (a browser reads `https://evil\@panel/` as host `evil`).
    public static func of(_ text: String) -> String? {
        let text = text.trimmingCharacters(in: .whitespaces)
        guard !text.unicodeScalars.contains(where: { $0 == "\\" || $0.value < 0x21 || $0.value == 0x7F }),
            let components = URLComponents(string: text), components.user == nil, components.password == nil,
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host?.lowercased(), !host.isEmpty
        else { return nil }
        let defaultPort = scheme == "https" ? 443 : 80
        if let port = components.port, port != defaultPort { return "\(scheme)://\(host):\(port)" }
        return "\(scheme)://\(host)"
    }

    /// Whether a request that says it comes from `stated` (its `Origin`) may write: the origin is
    /// one of `allowed`, or it is the server's own (the request's `Host`, and https when the
    /// cookies are `secure`): a same-origin request is no cross-site one.
    public static func isAllowed(_ stated: String, host: String?, allowed: [String], secure: Bool) -> Bool {
        guard let origin = of(stated) else { return false }
        if allowed.contains(origin) { return true }
        // Same origin needs the scheme the cookies are for: behind TLS, a page on plain http
        // (one a network attacker wrote) is another origin.
        guard !secure || origin.hasPrefix("https://") else { return false }
        guard let host = host?.lowercased(), let separator = origin.range(of: "://") else { return false }
        let authority = String(origin[separator.upperBound...])
        let defaultPort = origin.hasPrefix("https") ? ":443" : ":80"
        return host == authority || host == authority + defaultPort
    }
}
