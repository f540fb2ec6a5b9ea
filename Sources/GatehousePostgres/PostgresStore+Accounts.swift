import Foundation
import GatehouseCore
import GatehouseStore
import PostgresNIO

// Users and sessions. Each write is one SERIALIZABLE transaction (`write`), so the checks in it
// (the email is free, a rootAdmin is left) hold as they do with SQLite's single writer.

extension PostgresStore {
    // MARK: Users

    public func insertUser(_ user: User, audit: [AuditEvent]) async throws {
        try await accountWrite(userId: user.id) { connection, logger in
            try await Self.requireEmailFree(user, on: connection, logger)
            try await connection.query(user.insert, logger: logger)
            for event in audit { try await connection.query(event.insert, logger: logger) }
        }
    }

    public func updateUser(_ user: User) async throws {
        try await accountWrite(userId: user.id) { connection, logger in
            try await Self.requireExists(user.id, on: connection, logger)
            try await Self.requireEmailFree(user, on: connection, logger)
            guard try await connection.count(user.update, logger) == 1 else { throw StoreError.notFound }
        }
    }

    public func user(id: String) async throws -> User? {
        try await read("SELECT * FROM users WHERE \"id\" = \(id)").first.map(User.init(row:))
    }

    public func user(email: String) async throws -> User? {
        try await read(
            #"SELECT * FROM users WHERE lower("email" COLLATE "C") = lower(\#(email) COLLATE "C")"#
        ).first.map(User.init(row:))
    }

    /// The kept count and the changes not yet folded into it (no scan of `users`).
    public func userCount() async throws -> Int {
        try await read(Self.userCountQuery).first?.get("n") ?? 0
    }

    static let userCountQuery: PostgresQuery = """
        SELECT ((SELECT "value" FROM counters WHERE "name" = 'users')
            + COALESCE((SELECT SUM("delta") FROM user_count_deltas), 0))::bigint AS n
        """

    public func count(role: Role) async throws -> Int {
        try await read("SELECT COUNT(*) AS n FROM users WHERE \"role\" = \(role.rawValue)").first?.get("n") ?? 0
    }

    public func applyAccountChange(_ change: AccountChange) async throws {
        try await accountWrite(userId: change.user.id) { connection, logger in
            let user = change.user
            try await Self.requireExists(user.id, on: connection, logger)
            try await Self.requireEmailFree(user, on: connection, logger)
            guard try await connection.count(user.update, logger) == 1 else { throw StoreError.notFound }
            if change.demotesRootAdmin,
                try await connection.all(
                    "SELECT 1 FROM users WHERE \"role\" = \(Role.rootAdmin.rawValue) LIMIT 1",
                    logger
                ).isEmpty
            {
                throw StoreError.lastRootAdmin
            }
            if let keep = change.endSessionsExcept {
                try await connection.query(
                    #"DELETE FROM sessions WHERE "userId" = \#(user.id) AND "id" IS DISTINCT FROM \#(keep)"#,
                    logger: logger
                )
                try await Self.forgetPendingAccess(userId: user.id, on: connection, logger)
            }
            if let verification = change.verification {
                try await connection.query(
                    "DELETE FROM email_verifications WHERE \"userId\" = \(user.id)",
                    logger: logger
                )
                try await connection.query(verification.insert, logger: logger)
            }
            for mail in change.mails { try await connection.query(mail.insert, logger: logger) }
            for event in change.audit { try await connection.query(event.insert, logger: logger) }
        }
    }

    /// `StoreError.notFound` unless the user `id` exists (checked first, as SQLite does).
    static func requireExists(_ id: String, on connection: PostgresConnection, _ logger: Logger) async throws {
        if try await connection.all("SELECT 1 FROM users WHERE \"id\" = \(id)", logger).isEmpty {
            throw StoreError.notFound
        }
    }

    /// Refuses `user`'s email when another account has it (ignoring ASCII case); the unique
    /// index on it stays as the last guard.
    static func requireEmailFree(_ user: User, on connection: PostgresConnection, _ logger: Logger) async throws {
        let holders = try await connection.all(
            #"""
            SELECT 1 FROM users WHERE lower("email" COLLATE "C") = lower(\#(user.email) COLLATE "C")
                AND "id" <> \#(user.id) LIMIT 1
            """#,
            logger
        )
        if !holders.isEmpty { throw StoreError.duplicate(field: "email") }
    }

    /// Forgets what could still get into `userId`'s account without its password (see the
    /// SQLite store's `forgetPendingAccess`), in the caller's transaction.
    static func forgetPendingAccess(userId: String, on connection: PostgresConnection, _ logger: Logger) async throws {
        try await connection.query("DELETE FROM trusted_devices WHERE \"userId\" = \(userId)", logger: logger)
        try await connection.query("DELETE FROM login_challenges WHERE \"userId\" = \(userId)", logger: logger)
        try await connection.query("DELETE FROM email_changes WHERE \"userId\" = \(userId)", logger: logger)
    }

    // MARK: Sessions

    public func insertSession(_ session: Session, keepAtMost: Int, audit: [AuditEvent], mails: [OutboxMail])
        async throws
    {
        try await accountWrite(userId: session.userId) { connection, logger in
            try await Self.insertSession(session, keepAtMost: keepAtMost, on: connection, logger)
            for event in audit { try await connection.query(event.insert, logger: logger) }
            for mail in mails { try await connection.query(mail.insert, logger: logger) }
        }
    }

    /// Inserts a session and prunes the user's oldest beyond `keepAtMost`, in the caller's
    /// transaction.
    static func insertSession(
        _ session: Session,
        keepAtMost: Int,
        on connection: PostgresConnection,
        _ logger: Logger
    ) async throws {
        try await connection.query(session.insert, logger: logger)
        try await connection.query(
            """
            DELETE FROM sessions WHERE "userId" = \(session.userId) AND "id" NOT IN (
                SELECT "id" FROM sessions WHERE "userId" = \(session.userId)
                ORDER BY "createdAt" DESC, "id" DESC LIMIT \(keepAtMost))
            """,
            logger: logger
        )
    }

    /// Session lookups answered from the cache, and not, since the start.
    public var sessionCacheLookups: (hits: Int, misses: Int) { sessionCache.lookups }

    public func session(tokenHash: String, now: Date) async throws -> (Session, User)? {
        let trusted = notices.trusted
        if trusted, let cached = sessionCache.lookup(tokenHash) {
            // Past its expiry here; another process may have slid it since: read it again.
            if cached.0.expiresAt > now { return cached }
            sessionCache.invalidate(userId: cached.1.id)
        }
        let generation = sessionCache.generation
        guard
            let row = try await read(
                """
                SELECT \(unescaped: Session.columns("s", columnPrefix: "session.")), u.*
                FROM sessions s JOIN users u ON u."id" = s."userId" WHERE s."tokenHash" = \(tokenHash)
                """
            ).first
        else { return nil }
        let session = touches.apply(try Session(row: row, columnPrefix: "session."))
        guard session.expiresAt > now else { return nil }
        let found = (session, try User(row: row))
        // Kept only if no notice was missed meanwhile: the cache still trusted (see
        // `CredentialNotices`), and nothing of this user changed since the read began (the
        // generation).
        if trusted, notices.trusted {
            sessionCache.store(tokenHash, found, userId: found.1.id, ifGeneration: generation)
        }
        return found
    }

    /// Noted at once (what is read sees it) and written within a second with the other
    /// sessions' touches (see `SessionTouches`); the cached entry is changed, not dropped.
    public func touchSession(id: String, userId: String, lastSeenAt: Date, expiresAt: Date) async throws {
        let schedule = touches.add(sessionId: id, SessionTouches.Touch(lastSeenAt: lastSeenAt, expiresAt: expiresAt))
        sessionCache.modify(userId: userId) { entry in
            if entry.0.id == id { entry.0 = self.touches.apply(entry.0) }
        }
        guard schedule else { return }
        Task {
            try? await Task.sleep(for: touches.delay)
            try? await writeTouches()
        }
    }

    /// Writes the pending touches in one statement (a session deleted meanwhile matches no row).
    func writeTouches() async throws {
        try await touches.write { batch in
            let ids = Array(batch.keys)
            let seen = ids.map { batch[$0]!.lastSeenAt }
            let expires = ids.map { batch[$0]!.expiresAt }
            _ = try await read(
                """
                UPDATE sessions s SET "lastSeenAt" = t.seen, "expiresAt" = t.expires
                FROM unnest(\(ids)::text[], \(seen)::timestamptz[], \(expires)::timestamptz[]) AS t(id, seen, expires)
                WHERE s."id" = t.id
                """
            )
        }
    }

    public func sessions(userId: String, now: Date) async throws -> [Session] {
        try await read(
            "SELECT * FROM sessions WHERE \"userId\" = \(userId) ORDER BY \"createdAt\" DESC, \"id\" DESC"
        ).map { touches.apply(try Session(row: $0)) }.filter { $0.expiresAt > now }
    }

    public func session(id: String, now: Date) async throws -> Session? {
        try await read("SELECT * FROM sessions WHERE \"id\" = \(id)").first.map { touches.apply(try Session(row: $0)) }
            .flatMap { $0.expiresAt > now ? $0 : nil }
    }

    public func deleteSession(id: String, userId: String, audit: [AuditEvent]) async throws -> Bool {
        try await accountWrite(userId: userId) { connection, logger in
            try await connection.deleteOwned(.sessions, id: id, userId: userId, audit: audit, logger)
        }
    }

    public func deleteSessions(userId: String, keeping: String?, audit: [AuditEvent]) async throws -> Int {
        try await accountWrite(userId: userId) { connection, logger in
            let count = try await connection.count(
                #"""
                DELETE FROM sessions WHERE "userId" = \#(userId) AND "id" IS DISTINCT FROM \#(keeping) RETURNING "id"
                """#,
                logger
            )
            for var event in audit {
                event.detail["count"] = .number(Double(count))
                try await connection.query(event.insert, logger: logger)
            }
            return count
        }
    }

    /// Writes the pending touches first, so that a session used in the last second stays; the
    /// users whose sessions went lose their cached entries here, and in the other processes.
    public func deleteExpiredSessions(now: Date) async throws -> Int {
        try await writeTouches()
        // The hourly sweep also folds the count's changes (one statement: each change is
        // deleted and added once, whichever process sweeps).
        _ = try await read(
            """
            WITH folded AS (DELETE FROM user_count_deltas RETURNING "delta")
            UPDATE counters SET "value" = "value" + COALESCE((SELECT SUM("delta") FROM folded), 0)::bigint
            WHERE "name" = 'users'
            """
        )
        let deleted = try await write { connection, logger in
            let rows = try await connection.all(
                #"DELETE FROM sessions WHERE "expiresAt" <= \#(now) RETURNING "id", "userId""#,
                logger
            )
            let deleted = try rows.map {
                (id: try $0.get("id", as: String.self), userId: try $0.get("userId", as: String.self))
            }
            for userId in Set(deleted.map(\.userId)) {
                let (payload, _) = CredentialNotices.payload(userId: userId, nonce: CredentialNotices.unawaited)
                try await connection.query("SELECT pg_notify(\(CredentialNotices.channel), \(payload))", logger: logger)
            }
            return deleted.map { [$0.id, $0.userId] }
        }
        touches.forget(deleted.map { $0[0] })
        for userId in Set(deleted.map { $0[1] }) { sessionCache.invalidate(userId: userId) }
        return deleted.count
    }
}
