import Foundation
import GRDB
import GatehouseCore

/// The store on one SQLite file: a GRDB `DatabasePool` (WAL, so readers never wait for the
/// writer), foreign keys on, and a busy timeout so concurrent writers queue instead of failing.
/// This is the only place that writes SQL.
public final class SQLiteStore: GatehouseStore {
    let pool: DatabasePool
    let sessionCache = CredentialCache<(Session, User)>()
    let apiKeyCache = CredentialCache<(APIKey, User)>()
    let touches = SessionTouches()

    /// A write that may change the user `userId`, their sessions or API keys (nil: any user's).
    /// Their entries in the credential caches are dropped once it has committed (or failed).
    func accountWrite<T: Sendable>(
        userId: String?,
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        defer {
            sessionCache.invalidate(userId: userId)
            apiKeyCache.invalidate(userId: userId)
        }
        return try await pool.write(body)
    }

    /// Opens (creating if needed) the database at `path`, and its folder. What it creates is
    /// the service user's alone: the folder 0700, the file 0600 (SQLite gives its `-wal` and
    /// `-shm` files the database file's mode).
    public init(path: String, busyTimeout: TimeInterval = 5) throws {
        let files = FileManager.default
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        if !files.fileExists(atPath: directory.path) {
            try files.createDirectory(
                at: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        }
        if !files.fileExists(atPath: path) {
            guard files.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(busyTimeout)
        configuration.prepareDatabase { db in
            // Each commit is synced to disk before it is acknowledged, so a 2xx survives a power
            // cut as well as a crashed process (NORMAL survives only the latter). It costs about
            // 0.3 ms a commit on the development machine.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Deleted rows (used tokens, mail bodies) are overwritten, not left in free pages.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
    }

    public func migrate() async throws {
        try Migrations.migrator.migrate(pool)
    }

    public func appliedMigrations() async throws -> [String] {
        try await pool.read { db in try Migrations.migrator.appliedMigrations(db) }
    }

    /// Copies the WAL into the database file and empties it.
    public func checkpoint() async throws {
        try await pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }

    /// Folds the write-ahead log into the database file (a copy of the file alone is then
    /// whole), and closes every connection.
    public func close() async throws {
        // The last touches; a failure is reported once the database is closed all the same.
        var touchFailure: (any Error)?
        do { try await touches.write(to: pool) } catch { touchFailure = error }
        let busy = try await pool.writeWithoutTransaction { db in
            try Int.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        try pool.close()
        if busy != 0 { throw DatabaseError(resultCode: .SQLITE_BUSY, message: "the final checkpoint could not finish") }
        if let touchFailure { throw touchFailure }
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Users

    public func insertUser(_ user: User, audit: [AuditEvent]) async throws {
        let record = UserRecord(user)
        do {
            try await accountWrite(userId: user.id) { db in
                try Self.requireEmailFree(user, in: db)
                try record.insert(db)
                for event in audit { try AuditRecord(event).insert(db) }
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw StoreError.duplicate(field: "id")
        }
    }

    public func updateUser(_ user: User) async throws {
        let record = UserRecord(user)
        do {
            try await accountWrite(userId: user.id) { db in
                guard try UserRecord.exists(db, key: record.user.id) else { throw StoreError.notFound }
                try Self.requireEmailFree(record.user, in: db)
                try record.update(db)
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw StoreError.duplicate(field: "id")
        }
    }

    public func user(id: String) async throws -> User? {
        try await pool.read { db in try UserRecord.fetchOne(db, key: id)?.user }
    }

    public func user(email: String) async throws -> User? {
        try await pool.read { db in
            try UserRecord.filter(UserRecord.Columns.email.collating(.nocase) == email).fetchOne(db)?.user
        }
    }

    public func userCount() async throws -> Int {
        try await pool.read { db in try Self.userCount(db) }
    }

    /// How many users there are, as the triggers of `users` keep it (no scan of the table).
    static func userCount(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'users'") ?? 0
    }

    public func count(role: Role) async throws -> Int {
        try await pool.read { db in try UserRecord.filter(UserRecord.Columns.role == role.rawValue).fetchCount(db) }
    }

    public func applyAccountChange(_ change: AccountChange) async throws {
        let record = UserRecord(change.user)
        do {
            try await accountWrite(userId: change.user.id) { db in
                guard try UserRecord.exists(db, key: record.user.id) else { throw StoreError.notFound }
                try Self.requireEmailFree(record.user, in: db)
                try record.update(db)
                if change.demotesRootAdmin,
                    try UserRecord.filter(UserRecord.Columns.role == Role.rootAdmin.rawValue).fetchCount(db) == 0
                {
                    throw StoreError.lastRootAdmin
                }
                if let keep = change.endSessionsExcept {
                    var sessions = SessionRecord.filter(SessionRecord.Columns.userId == record.user.id)
                    if let keep { sessions = sessions.filter(SessionRecord.Columns.id != keep) }
                    try sessions.deleteAll(db)
                    try Self.forgetPendingAccess(userId: record.user.id, in: db)
                }
                if let verification = change.verification {
                    try VerificationRecord.filter(VerificationRecord.Columns.userId == record.user.id).deleteAll(db)
                    try VerificationRecord(verification).insert(db)
                }
                for mail in change.mails { try Self.enqueueMail(mail, in: db) }
                for event in change.audit { try AuditRecord(event).insert(db) }
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw StoreError.duplicate(field: "id")
        }
    }

    // MARK: Sessions

    public func insertSession(_ session: Session, keepAtMost: Int, audit: [AuditEvent], mails: [OutboxMail])
        async throws
    {
        try await accountWrite(userId: session.userId) { db in
            try Self.insertSession(session, keepAtMost: keepAtMost, in: db)
            for event in audit { try AuditRecord(event).insert(db) }
            for mail in mails { try Self.enqueueMail(mail, in: db) }
        }
    }

    /// Inserts a session and prunes the user's oldest beyond `keepAtMost`, in the caller's
    /// transaction.
    static func insertSession(_ session: Session, keepAtMost: Int, in db: Database) throws {
        try SessionRecord(session).insert(db)
        try db.execute(
            sql: """
                DELETE FROM sessions WHERE userId = ? AND id NOT IN (
                    SELECT id FROM sessions WHERE userId = ? ORDER BY createdAt DESC, id DESC LIMIT ?)
                """,
            arguments: [session.userId, session.userId, keepAtMost]
        )
    }

    /// Session lookups answered from the cache, and not, since the start.
    public var sessionCacheLookups: (hits: Int, misses: Int) { sessionCache.lookups }

    public func session(tokenHash: String, now: Date) async throws -> (Session, User)? {
        if let cached = sessionCache.lookup(tokenHash) {
            return cached.0.expiresAt > now ? cached : nil
        }
        let generation = sessionCache.generation
        let found = try await readSession(tokenHash: tokenHash, now: now)
        if let found { sessionCache.store(tokenHash, found, userId: found.1.id, ifGeneration: generation) }
        return found
    }

    func readSession(tokenHash: String, now: Date) async throws -> (Session, User)? {
        try await pool.read { db in
            guard
                let record = try SessionRecord.filter(SessionRecord.Columns.tokenHash == tokenHash).fetchOne(db),
                case let session = self.touches.apply(record.session), session.expiresAt > now,
                let user = try UserRecord.fetchOne(db, key: session.userId)
            else { return nil }
            return (session, user.user)
        }
    }

    /// Noted at once (what is read sees it) and written within a second with the other
    /// sessions' touches (see `SessionTouches`); the cached entry is changed, not dropped.
    public func touchSession(id: String, userId: String, lastSeenAt: Date, expiresAt: Date) async throws {
        let touch = SessionTouches.Touch(lastSeenAt: lastSeenAt, expiresAt: expiresAt)
        // Noted before the cache changes: a read that misses the change is then not kept.
        let schedule = touches.add(sessionId: id, touch)
        sessionCache.modify(userId: userId) { entry in
            if entry.0.id == id { entry.0 = self.touches.apply(entry.0) }
        }
        guard schedule else { return }
        Task { [touches, pool] in
            try? await Task.sleep(for: touches.delay)
            try? await touches.write(to: pool)
        }
    }

    public func sessions(userId: String, now: Date) async throws -> [Session] {
        try await pool.read { db in
            try SessionRecord.filter(SessionRecord.Columns.userId == userId)
                .order(SessionRecord.Columns.createdAt.desc, SessionRecord.Columns.id.desc)
                .fetchAll(db).map { self.touches.apply($0.session) }.filter { $0.expiresAt > now }
        }
    }

    public func session(id: String, now: Date) async throws -> Session? {
        try await pool.read { db in
            try SessionRecord.fetchOne(db, key: id).map { self.touches.apply($0.session) }
                .flatMap { $0.expiresAt > now ? $0 : nil }
        }
    }

    public func deleteSession(id: String, userId: String, audit: [AuditEvent]) async throws -> Bool {
        try await accountWrite(userId: userId) { db in
            try db.deleteOwned(SessionRecord.self, id: id, userId: userId, audit: audit)
        }
    }

    public func deleteSessions(userId: String, keeping: String?, audit: [AuditEvent]) async throws -> Int {
        try await accountWrite(userId: userId) { db in
            var request = SessionRecord.filter(SessionRecord.Columns.userId == userId)
            if let keeping { request = request.filter(SessionRecord.Columns.id != keeping) }
            let count = try request.deleteAll(db)
            for var event in audit {
                event.detail["count"] = .number(Double(count))
                try AuditRecord(event).insert(db)
            }
            return count
        }
    }

    /// Writes the pending touches first, so that a session used in the last second stays. The
    /// users whose sessions were deleted lose their cached entries (a touch or a read racing
    /// the sweep cannot keep a deleted session alive in memory); other users' entries stay.
    public func deleteExpiredSessions(now: Date) async throws -> Int {
        try await touches.write(to: pool)
        let deleted = try await pool.write { db in
            let expired = SessionRecord.filter(SessionRecord.Columns.expiresAt <= now)
            let rows = try Row.fetchAll(db, expired.select(SessionRecord.Columns.id, SessionRecord.Columns.userId))
            try expired.deleteAll(db)
            return rows.map { (id: $0[0] as String, userId: $0[1] as String) }
        }
        touches.forget(deleted.map(\.id))
        for userId in Set(deleted.map(\.userId)) { sessionCache.invalidate(userId: userId) }
        return deleted.count
    }

    /// Refuses `user`'s email when another account has it (ignoring case). Inside the write
    /// transaction, which holds the database's write lock, the check and the write are one step;
    /// the UNIQUE index on `users.email` stays as the last guard.
    static func requireEmailFree(_ user: User, in db: Database) throws {
        let holders = try UserRecord.filter(
            UserRecord.Columns.email.collating(.nocase) == user.email && UserRecord.Columns.id != user.id
        ).fetchCount(db)
        if holders > 0 { throw StoreError.duplicate(field: "email") }
    }
}

/// What a metrics scrape reads from a store, whichever it is.
package protocol StoreStatistics: Sendable {
    /// Session lookups answered from the cache, and not, since the start.
    var sessionCacheLookups: (hits: Int, misses: Int) { get }
    /// How many mails the outbox holds in each status.
    func outboxCounts() async throws -> [OutboxMail.Status: Int]
}

extension SQLiteStore: StoreStatistics {}
