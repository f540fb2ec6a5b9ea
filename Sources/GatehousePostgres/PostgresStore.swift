import Foundation
import GatehouseCore
import GatehouseStore
import Logging
import NIOSSL
import PostgresNIO

/// The store on a PostgreSQL server, for several Gatehouse processes on one database
/// (`database.url`). The same tables and rules as `SQLiteStore`; what SQLite got from having
/// one writer at a time, this gets from SERIALIZABLE transactions, tried again when the server
/// finds two of them in conflict (`write`). Each process keeps its own credential caches; a
/// write that changes a user tells the other processes through `NOTIFY` (see
/// `CredentialNotices`). Statements are parameterized (`PostgresQuery` interpolation binds every
/// value); only fixed table names (`OwnedTable`) are put into a statement's text.
public final class PostgresStore: GatehouseStore {
    let client: PostgresClient
    let logger: Logger
    let url: DatabaseURL
    private let running: Task<Void, Never>
    let notices: CredentialNotices
    private let listening: Task<Void, Never>
    let sessionCache = CredentialCache<(Session, User)>()
    let apiKeyCache = CredentialCache<(APIKey, User)>()
    let touches = SessionTouches()
    let rateLimits: PostgresRateLimits
    /// How long a claimed mail belongs to this process (`mail.outbox.lease`).
    let outboxLease: TimeInterval

    /// Connects (lazily: the first statement opens the first connection) to the server `url`
    /// names, with `tls` as `database.tls` says, verifying against `caFile` (PEM) or the
    /// system's CAs. `listenRetry` is the first wait before listening again after the listening
    /// connection dropped (doubled on each failure, up to 10 s); `noticeTimeout` is how long a
    /// credential write waits for the other processes' acknowledgements (see `CredentialNotices`).
    public init(
        url: DatabaseURL,
        tls: CoreSettings.Database.TLS,
        caFile: String?,
        maxConnections: Int = 20,
        outboxLease: TimeInterval = 300,
        listenRetry: Duration = .milliseconds(500),
        noticeTimeout: Duration = .seconds(2),
        logger: Logger
    ) throws {
        self.url = url
        self.outboxLease = outboxLease
        self.logger = logger
        var configuration = PostgresClient.Configuration(
            host: url.host,
            port: url.port,
            username: url.user,
            password: url.password,
            database: url.database,
            tls: try Self.clientTLS(tls, caFile: caFile)
        )
        configuration.options.maximumConnections = maxConnections
        configuration.options.additionalStartupParameters = [("application_name", "gatehouse")]
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        running = Task { [client] in await client.run() }
        rateLimits = PostgresRateLimits(client: client, logger: logger)

        var listenTLS = PostgresConnection.Configuration.TLS.disable
        if let tls = Self.tlsConfiguration(tls, caFile: caFile) {
            listenTLS = .require(try NIOSSLContext(configuration: tls))
        }
        var listenConfiguration = PostgresConnection.Configuration(
            host: url.host,
            port: url.port,
            username: url.user,
            password: url.password,
            database: url.database,
            tls: listenTLS
        )
        listenConfiguration.options.additionalStartupParameters = [
            ("application_name", CredentialNotices.applicationName),
            // The server notices a listener whose host died within half a minute (writers
            // count listeners, and wait for each one's acknowledgement).
            ("tcp_keepalives_idle", "10"), ("tcp_keepalives_interval", "5"), ("tcp_keepalives_count", "3"),
        ]
        let sessionCache = self.sessionCache
        let apiKeyCache = self.apiKeyCache
        let notices = CredentialNotices(
            configuration: listenConfiguration,
            retry: listenRetry,
            ackTimeout: noticeTimeout,
            logger: logger
        ) { userId in
            sessionCache.invalidate(userId: userId)
            apiKeyCache.invalidate(userId: userId)
        }
        self.notices = notices
        listening = Task { await notices.run() }
    }

    /// TLS as `database.tls` asks. `require` skips the host-name check only against a private
    /// CA (`caFile`): against the system's CAs, any site's public certificate would pass, and a
    /// man in the middle could ask for the password in clear. So without `caFile`, `require`
    /// checks the name as `verify-full` does. (For a host given as an IP address, the check is
    /// of the certificate's IP addresses against the peer's.)
    static func tlsConfiguration(_ mode: CoreSettings.Database.TLS, caFile: String?) -> TLSConfiguration? {
        guard mode != .disable else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile { tls.trustRoots = .file(caFile) }
        tls.certificateVerification = mode == .require && caFile != nil ? .noHostnameVerification : .fullVerification
        return tls
    }

    static func clientTLS(_ mode: CoreSettings.Database.TLS, caFile: String?) throws -> PostgresClient.Configuration.TLS
    {
        guard let tls = tlsConfiguration(mode, caFile: caFile) else { return .disable }
        // Built once here, so that a CA file that does not parse fails the start, not every connection.
        _ = try NIOSSLContext(configuration: tls)
        return .require(tls)
    }

    /// The rate-limit counters, in the database every process shares.
    public var sharedRateLimits: (any RateLimitStore)? { rateLimits }

    // MARK: Transactions

    /// Runs `body` in one SERIALIZABLE transaction and commits it. When the server refuses the
    /// commit because a concurrent transaction conflicts (40001, or a deadlock, 40P01), the
    /// whole transaction is run again, up to `attempts` times: its outcome is then as if the
    /// transactions had run one after another, the guarantee the SQLite store's single writer
    /// gives. `body` may run more than once; it must only talk to the database.
    func write<T: Sendable>(
        attempts: Int = 30,
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await client.withTransaction(logger: logger) { connection in
                    try await connection.query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", logger: self.logger)
                    return try await body(connection, self.logger)
                }
            } catch let error as PostgresTransactionError {
                let failure = error.closureError ?? error.commitError ?? error.beginError ?? error
                if attempt < attempts, Self.isConflict(failure) {
                    // A short, growing, random wait, so the conflicting writers do not meet again.
                    try await Task.sleep(for: .microseconds(Int.random(in: 0...(200 << min(attempt, 6)))))
                    continue
                }
                throw Self.storeError(failure)
            }
        }
    }

    /// A write that may change the user `userId`, their sessions or API keys (nil: any user's).
    /// Their entries in this process's caches are dropped once it has committed (or failed),
    /// and the other processes are told in the same transaction (a `NOTIFY` is sent at commit).
    func accountWrite<T: Sendable>(
        userId: String?,
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        defer {
            sessionCache.invalidate(userId: userId)
            apiKeyCache.invalidate(userId: userId)
        }
        let (payload, nonce) = CredentialNotices.payload(userId: userId)
        notices.expect(nonce)
        let (result, before): (T, Set<Int32>)
        do {
            (result, before) = try await write { connection, logger in
                let result = try await body(connection, logger)
                try await connection.query(
                    "SELECT pg_notify(\(CredentialNotices.channel), \(payload))",
                    logger: logger
                )
                return (result, Set(try await connection.all(Self.listenersQuery, logger).first?.get("pids") ?? []))
            }
        } catch {
            notices.finish(nonce)
            throw error
        }
        let committed = ContinuousClock.now
        // Who must acknowledge: every connection listening before the commit (one that went
        // since cannot answer, and the wait runs out) and after it (one that began listening
        // while the commit was under way is not in the first count, and hears the notice).
        let after: [Int32]? = try? await read(Self.listenersQuery).first?.get("pids")
        await notices.awaitAcknowledgements(nonce, listeners: after.map { before.union($0) }, since: committed)
        return result
    }

    /// The server pids of the connections listening for credential notices on this database.
    static let listenersQuery: PostgresQuery = """
        SELECT COALESCE(array_agg(pid), '{}')::int4[] AS pids FROM pg_stat_activity
        WHERE application_name = \(CredentialNotices.applicationName) AND datname = current_database()
        """

    /// The rows of one statement, outside any transaction.
    func read(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        do {
            var rows: [PostgresRandomAccessRow] = []
            for try await row in try await client.query(query, logger: logger) { rows.append(row.makeRandomAccess()) }
            return rows
        } catch {
            throw Self.storeError(error)
        }
    }

    static func isConflict(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }

    /// A unique constraint's refusal as the store protocol names it; other errors as they are.
    static func storeError(_ error: any Error) -> any Error {
        guard let error = error as? PSQLError, error.serverInfo?[.sqlState] == "23505" else { return error }
        let constraint = error.serverInfo?[.constraintName] ?? ""
        if constraint == "users_email" { return StoreError.duplicate(field: "email") }
        if constraint == "ssh_keys_userId_fingerprint_key" { return StoreError.duplicate(field: "fingerprint") }
        if constraint.hasPrefix("passkeys_credentialID") { return StoreError.duplicate(field: "credentialID") }
        return StoreError.duplicate(field: "id")
    }

    // MARK: Schema and life

    public func migrate() async throws {
        try await checkReachable()
        try await PostgresSchema.migrate(client: client, logger: logger, whileLocked: {})
    }

    /// Connects once, outside the pool, so that a server that cannot be reached, refuses the
    /// password or does not speak TLS as asked fails a start at once with what went wrong
    /// (the pool would retry for a minute before giving up).
    func checkReachable() async throws {
        var configuration = notices.configuration
        configuration.options.additionalStartupParameters = [("application_name", "gatehouse")]
        do {
            let connection = try await PostgresConnection.connect(
                configuration: configuration,
                id: 1,
                logger: logger
            )
            try await connection.close()
        } catch {
            throw PostgresUnreachable(url: url, error: error)
        }
    }

    /// Brings the schema up to date holding the migration lock, and runs `whileLocked` under it
    /// (the server key's first creation): of several processes starting together, one migrates
    /// and creates, the others wait for it and then find the work done.
    public func migrate(whileLocked: @escaping @Sendable (PostgresStore) async throws -> Void) async throws {
        try await checkReachable()
        try await PostgresSchema.migrate(client: client, logger: logger) { try await whileLocked(self) }
    }

    public func appliedMigrations() async throws -> [String] {
        try await read("SELECT \"name\" FROM schema_migrations ORDER BY \"seq\"").map {
            try $0["name"].decode(String.self)
        }
    }

    public func ping() async throws {
        _ = try await read("SELECT 1")
    }

    /// Writes the last touches and closes every connection.
    public func close() async throws {
        var touchFailure: (any Error)?
        do { try await writeTouches() } catch { touchFailure = error }
        listening.cancel()
        await listening.value
        running.cancel()
        await running.value
        if let touchFailure { throw touchFailure }
    }

    /// A value kept in `gatehouse_settings` (the server key's check, for one).
    public func setting(_ name: String) async throws -> String? {
        try await read("SELECT \"value\" FROM gatehouse_settings WHERE \"name\" = \(name)").first?["value"].decode(
            String.self
        )
    }

    /// Keeps `value` under `name` unless a value is there already; returns the value kept.
    public func keepSetting(_ name: String, _ value: String) async throws -> String {
        try await write { connection, logger in
            try await connection.query(
                """
                INSERT INTO gatehouse_settings ("name", "value") VALUES (\(name), \(value))
                ON CONFLICT ("name") DO NOTHING
                """,
                logger: logger
            )
            return try await connection.all(
                "SELECT \"value\" FROM gatehouse_settings WHERE \"name\" = \(name)",
                logger
            ).first?["value"].decode(String.self) ?? value
        }
    }
}

extension PostgresConnection {
    /// Every row of `query`, read whole (so the connection is free for the next statement).
    func all(_ query: PostgresQuery, _ logger: Logger) async throws -> [PostgresRandomAccessRow] {
        var rows: [PostgresRandomAccessRow] = []
        for try await row in try await self.query(query, logger: logger) { rows.append(row.makeRandomAccess()) }
        return rows
    }

    /// Runs `query` and returns how many rows it returned (a `RETURNING` counts what changed).
    @discardableResult
    func count(_ query: PostgresQuery, _ logger: Logger) async throws -> Int {
        try await all(query, logger).count
    }

    /// The tables whose rows belong to one user by their `userId` column.
    enum OwnedTable: String {
        case sessions, passkeys
        case apiKeys = "api_keys"
        case sshKeys = "ssh_keys"
    }

    /// How many rows of `table` belong to `userId`.
    func countOwned(_ table: OwnedTable, userId: String, _ logger: Logger) async throws -> Int {
        try await all(
            #"SELECT COUNT(*) AS n FROM \#(unescaped: table.rawValue) WHERE "userId" = \#(userId)"#,
            logger
        ).first?.get("n") ?? 0
    }

    /// Deletes the row `id` of `table` if it belongs to `userId`, and records `audit` with it, in
    /// the caller's transaction. Says whether the row was there (nothing is recorded if not).
    func deleteOwned(_ table: OwnedTable, id: String, userId: String, audit: [AuditEvent], _ logger: Logger)
        async throws -> Bool
    {
        let deleted = try await count(
            #"DELETE FROM \#(unescaped: table.rawValue) WHERE "id" = \#(id) AND "userId" = \#(userId) RETURNING "id""#,
            logger
        )
        guard deleted > 0 else { return false }
        for event in audit { try await query(event.insert, logger: logger) }
        return true
    }
}

/// The database server could not be used; says why in an operator's words, without the password.
public struct PostgresUnreachable: Error, CustomStringConvertible {
    let url: DatabaseURL
    let error: any Error

    public var description: String {
        let reason: String
        if let error = error as? PSQLError {
            switch error.code {
            case .sslUnsupported:
                reason = "the server does not offer TLS (database.tls: disable for a server on a private network)"
            case .failedToAddSSLHandler:
                reason = "TLS could not be set up (database.caFile?)"
            case .server:
                let state = error.serverInfo?[.sqlState] ?? ""
                let message = error.serverInfo?[.message] ?? "refused"
                reason =
                    state == "28P01" || state == "28000"
                    ? "the server refused the user or password (\(message))" : "the server said: \(message)"
            case .connectionError:
                reason = "cannot connect (\(error.underlying.map { "\($0)" } ?? "no answer"))"
            default:
                reason = String(reflecting: error)
            }
        } else {
            reason = "\(error)"
        }
        return "database \(url.redacted): \(reason)"
    }
}
