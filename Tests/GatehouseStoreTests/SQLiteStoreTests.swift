import Foundation
import GRDB
import GatehouseCore
import Logging
import Synchronization
import TestSupport
import Testing

@testable import GatehousePostgres
@testable import GatehouseStore

/// A store on a real SQLite file in a fresh folder.
func makeStore() async throws -> SQLiteStore {
    let dir = try Paths.temporaryDirectory("store")
    let store = try SQLiteStore(path: dir.appendingPathComponent("nested/gatehouse.sqlite").path)
    try await store.migrate()
    return store
}

/// The two stores: the tests of the store protocol run on both.
enum Backend: String, CaseIterable, Sendable {
    case sqlite, postgres
}

/// A store of `backend`, empty and migrated: SQLite in a fresh folder, or PostgreSQL on a fresh
/// database of the test cluster.
func makeStore(_ backend: Backend) async throws -> any GatehouseStore {
    switch backend {
    case .sqlite: return try await makeStore()
    case .postgres: return try await makePostgresStore()
    }
}

/// A PostgreSQL store on `url` (a fresh database when nil), migrated.
func makePostgresStore(
    _ url: DatabaseURL? = nil,
    listenRetry: Duration = .milliseconds(500),
    noticeTimeout: Duration = .seconds(2)
) async throws
    -> PostgresStore
{
    var logger = Logger(label: "store-test")
    logger.logLevel = .warning
    var database = url
    if database == nil { database = try await TestPostgres.freshDatabase() }
    let store = try PostgresStore(
        url: try #require(database),
        tls: .disable,
        caFile: nil,
        maxConnections: 8,
        listenRetry: listenRetry,
        noticeTimeout: noticeTimeout,
        logger: logger
    )
    try await store.migrate()
    return store
}

/// A session of `user` found by `hash`, started `now` and lasting `lifetime` seconds.
func makeSession(_ user: User, _ hash: String, now: Date, lifetime: TimeInterval = 3600) -> Session {
    Session(
        userId: user.id,
        tokenHash: hash,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now.addingTimeInterval(lifetime),
        ip: nil,
        userAgent: nil
    )
}

func makeUser(_ email: String = "ada@example.com") -> User {
    User(email: email, passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$x$y", firstName: "Ada", lastName: "Lovelace")
}

/// Ada with sessions `ada-1` and `ada-2` lasting `adaLifetime`, Bob with `bob-1` lasting 600 s,
/// all started `now` and looked up once (so cached); Ada and her first session.
func cacheAdaAndBob(in store: SQLiteStore, now: Date, adaLifetime: TimeInterval) async throws -> (User, Session) {
    let (ada, bob) = (makeUser("ada@example.com"), makeUser("bob@example.com"))
    try await store.insertUser(ada)
    try await store.insertUser(bob)
    let first = makeSession(ada, "ada-1", now: now, lifetime: adaLifetime)
    try await store.insertSession(first, keepAtMost: 20)
    try await store.insertSession(makeSession(ada, "ada-2", now: now, lifetime: adaLifetime), keepAtMost: 20)
    try await store.insertSession(makeSession(bob, "bob-1", now: now, lifetime: 600), keepAtMost: 20)
    for hash in ["ada-1", "ada-2", "bob-1"] { _ = try await store.session(tokenHash: hash, now: now) }
    return (ada, first)
}

@Suite struct SQLiteStoreTests {
    @Test func migratesOnceInWALModeWithForeignKeys() async throws {
        let store = try await makeStore()
        try await store.migrate()  // a second run is a no-op
        #expect(
            try await store.appliedMigrations() == [
                "v1-users-sessions", "v2-mail-outbox", "v3-email-verifications", "v4-password-resets",
                "v5-audit-two-factor", "v6-api-keys-ssh-keys", "v7-servers", "v8-trusted-devices-codes-email-changes",
                "v9-session-impersonation", "v10-passkeys", "v11-outbox-template",
                "v12-user-list-index-and-count",
            ]
        )
        let (journal, foreignKeys) = try await store.pool.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA foreign_keys"))
        }
        #expect(journal == "wal")
        #expect(foreignKeys == 1)
        try await store.ping()
    }

    /// A stored role or mail status this version does not know is an error, not a default: a
    /// role written by a newer version is not read as `user`, a mail status not as `pending`
    /// (which would send it again).
    @Test func unknownStoredValuesAreErrorsNotDefaults() async throws {
        let store = try await makeStore()
        let user = makeUser()
        try await store.insertUser(user, audit: [])
        let mail = OutboxMail(
            message: MailMessage(to: user.email, subject: "S", text: "t", html: "<p>t</p>"),
            now: Date()
        )
        try await store.enqueueMail(mail)
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE users SET role = 'superuser'")
            try db.execute(sql: "UPDATE mail_outbox SET status = 'bounced'")
        }
        await #expect(throws: StoreError.unknownValue(column: "users.role", value: "superuser")) {
            _ = try await store.user(id: user.id)
        }
        await #expect(throws: StoreError.unknownValue(column: "mail_outbox.status", value: "bounced")) {
            _ = try await store.outboxMail(id: mail.id)
        }
        // Settings that do not parse are not read as none (a later save would erase them), and
        // an audit kind of a newer version is not skipped.
        try await store.recordAudit(AuditEvent(.userCreated, userId: user.id, ip: nil))
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE users SET role = 'user', settings = '{\"theme\":'")
            try db.execute(sql: "UPDATE audit_events SET kind = 'user.cloned'")
        }
        await #expect(throws: StoreError.unknownValue(column: "users.settings", value: #"{"theme":"#)) {
            _ = try await store.user(id: user.id)
        }
        await #expect(throws: StoreError.unknownValue(column: "audit_events.kind", value: "user.cloned")) {
            _ = try await store.auditEvents(userId: nil, limit: 10)
        }
    }

    /// A trusted browser's token works once, for its account, until it ends; a password change
    /// (which ends the other sessions) forgets the account's trusted browsers, its sign-ins
    /// waiting for a second factor and its changes of address waiting for their link.
    @Test(arguments: Backend.allCases) func trustedDevicesAreSingleUseAndForgottenWithThePassword(_ backend: Backend)
        async throws
    {
        let store = try await makeStore(backend)
        let (ada, bob) = (makeUser("ada@example.com"), makeUser("bob@example.com"))
        try await store.insertUser(ada)
        try await store.insertUser(bob)
        let now = Date()
        try await store.trustDevice(tokenHash: "a", userId: ada.id, expiresAt: now.addingTimeInterval(60))
        try await store.trustDevice(tokenHash: "old", userId: ada.id, expiresAt: now.addingTimeInterval(-1))
        #expect(try await !store.takeTrustedDevice(tokenHash: "a", userId: bob.id, now: now))
        #expect(try await !store.takeTrustedDevice(tokenHash: "old", userId: ada.id, now: now))
        #expect(try await store.takeTrustedDevice(tokenHash: "a", userId: ada.id, now: now))
        #expect(try await !store.takeTrustedDevice(tokenHash: "a", userId: ada.id, now: now))

        try await store.trustDevice(tokenHash: "b", userId: ada.id, expiresAt: now.addingTimeInterval(60))
        try await store.insertLoginChallenge(
            LoginChallenge(userId: ada.id, tokenHash: "c", expiresAt: now.addingTimeInterval(60))
        )
        let mail = OutboxMail(message: MailMessage(to: ada.email, subject: "S", text: "t", html: "<p>t</p>"), now: now)
        try await store.saveEmailChange(
            EmailChange(
                tokenHash: "e",
                userId: ada.id,
                newEmail: "new@example.com",
                stage: .verify,
                expiresAt: now + 60
            ),
            mail: mail
        )
        var changed = ada
        changed.passwordHash = "$argon2id$new"
        try await store.applyAccountChange(AccountChange(user: changed, endSessionsExcept: .some(nil)))
        #expect(try await !store.takeTrustedDevice(tokenHash: "b", userId: ada.id, now: now))
        #expect(try await store.loginChallenge(tokenHash: "c", now: now) == nil)
        #expect(try await store.takeEmailChange(tokenHash: "e", now: now) == nil)
    }

    @Test(arguments: Backend.allCases) func usersRoundTripAndEmailsAreUniqueIgnoringCase(_ backend: Backend)
        async throws
    {
        let store = try await makeStore(backend)
        var user = makeUser()
        user.settings = ["theme": "dark", "notifications": .object([("email", true)])]
        user.dateOfBirth = "1990-12-10"
        try await store.insertUser(user)
        let loaded = try #require(try await store.user(id: user.id))
        #expect(loaded.email == user.email)
        #expect(loaded.settings == user.settings)
        #expect(loaded.dateOfBirth == "1990-12-10")
        #expect(abs(loaded.createdAt.timeIntervalSince(user.createdAt)) < 0.001)
        #expect(try await store.user(email: "ADA@example.COM")?.id == user.id)
        await #expect(throws: StoreError.duplicate(field: "email")) {
            try await store.insertUser(makeUser("Ada@Example.com"))
        }
        #expect(try await store.userCount() == 1)

        // A change to an email another account holds is refused; a change of one's own
        // email's case is not.
        var bob = makeUser("bob@example.com")
        try await store.insertUser(bob)
        bob.email = "ADA@example.com"
        await #expect(throws: StoreError.duplicate(field: "email")) { try await store.updateUser(bob) }
        bob.email = "Bob@Example.com"
        try await store.updateUser(bob)
        #expect(try await store.user(id: bob.id)?.email == "Bob@Example.com")
    }

    /// A write about one user drops that user's cached credentials and keeps everyone else's:
    /// a revoked session or a suspended user stops at once; others still cost no read.
    @Test func aWriteDropsOnlyItsUsersCachedCredentials() async throws {
        let store = try await makeStore()
        let (ada, bob) = (makeUser("ada@example.com"), makeUser("bob@example.com"))
        try await store.insertUser(ada)
        try await store.insertUser(bob)
        let now = Date()
        func session(_ user: User, _ hash: String) -> Session { makeSession(user, hash, now: now, lifetime: 600) }
        let adaSession = session(ada, "ada-1")
        try await store.insertSession(adaSession, keepAtMost: 20)
        try await store.insertSession(session(ada, "ada-2"), keepAtMost: 20)
        try await store.insertSession(session(bob, "bob-1"), keepAtMost: 20)
        for hash in ["ada-1", "ada-2", "bob-1"] { #expect(try await store.session(tokenHash: hash, now: now) != nil) }
        #expect(store.sessionCache.lookup("bob-1") != nil)

        #expect(try await store.deleteSession(id: adaSession.id, userId: ada.id, audit: []))
        #expect(store.sessionCache.lookup("ada-2") == nil)
        #expect(store.sessionCache.lookup("bob-1") != nil)  // Bob's entry stays
        #expect(try await store.session(tokenHash: "ada-1", now: now) == nil)
        #expect(try await store.session(tokenHash: "ada-2", now: now) != nil)

        var suspended = bob
        suspended.suspended = true
        try await store.updateUser(suspended)
        #expect(store.sessionCache.lookup("bob-1") == nil)
        #expect(store.sessionCache.lookup("ada-2") != nil)  // Ada's entry stays
        #expect(try await store.session(tokenHash: "bob-1", now: now)?.1.suspended == true)
    }

    /// A last-use touch keeps every cached entry (its own changed in place), is seen by reads at
    /// once, reaches the database within a second, and is written when the store closes.
    @Test func touchesKeepTheCacheAndReachTheDatabase() async throws {
        let dir = try Paths.temporaryDirectory("touches")
        let path = dir.appendingPathComponent("gatehouse.sqlite").path
        let store = try SQLiteStore(path: path)
        try await store.migrate()
        let now = Date()
        let (ada, adaSession) = try await cacheAdaAndBob(in: store, now: now, adaLifetime: 600)
        func touch(at time: Date) async throws {
            try await store.touchSession(
                id: adaSession.id,
                userId: ada.id,
                lastSeenAt: time,
                expiresAt: time.addingTimeInterval(600)
            )
        }

        let later = now.addingTimeInterval(120)
        try await touch(at: later)
        // Nothing dropped: Ada's other session and Bob's stay, the touched one is changed.
        #expect(store.sessionCache.lookup("ada-2") != nil)
        #expect(store.sessionCache.lookup("bob-1") != nil)
        #expect(store.sessionCache.lookup("ada-1")?.0.lastSeenAt == later)
        // Alive past its first expiry, whether answered from the cache or the database.
        let past = now.addingTimeInterval(700)
        #expect(try await store.session(tokenHash: "ada-1", now: past)?.0.expiresAt == later.addingTimeInterval(600))
        #expect(try await store.readSession(tokenHash: "ada-1", now: past) != nil)
        #expect(try await store.sessions(userId: ada.id, now: past).map(\.id) == [adaSession.id])
        #expect(try await store.session(id: adaSession.id, now: past)?.lastSeenAt == later)
        // Written within a second or so.
        func stored() throws -> Date? {
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            return try queue.read { db in
                try Date.fetchOne(db, sql: "SELECT lastSeenAt FROM sessions WHERE id = ?", arguments: [adaSession.id])
            }
        }
        #expect(
            try await eventually(every: .milliseconds(100)) {
                try stored().map { abs($0.timeIntervalSince(later)) < 0.001 } ?? false
            }
        )

        // One noted just before closing is written by the close.
        let last = later.addingTimeInterval(120)
        try await touch(at: last)
        try await store.close()
        #expect(try stored().map { abs($0.timeIntervalSince(last)) < 0.001 } == true)
    }

    /// The sweep of expired sessions keeps a session whose touch is still in memory, and drops
    /// the cached entries of the users whose sessions it deleted, no one else's.
    @Test func theSweepKeepsTouchedSessions() async throws {
        let store = try await makeStore()
        let now = Date()
        let (ada, touched) = try await cacheAdaAndBob(in: store, now: now, adaLifetime: 60)
        try await store.touchSession(
            id: touched.id,
            userId: ada.id,
            lastSeenAt: now.addingTimeInterval(30),
            expiresAt: now.addingTimeInterval(90)
        )
        #expect(try await store.deleteExpiredSessions(now: now.addingTimeInterval(61)) == 1)
        // Ada had a session deleted: her entries go; Bob's stay.
        #expect(store.sessionCache.lookup("ada-2") == nil)
        #expect(store.sessionCache.lookup("bob-1") != nil)
        #expect(try await store.session(tokenHash: "ada-1", now: now.addingTimeInterval(61)) != nil)
        #expect(try await store.session(tokenHash: "ada-2", now: now.addingTimeInterval(61)) == nil)
    }

    /// Users newest first, a page by offset or by cursor (`before`), the total kept by triggers,
    /// and the list read through the index (no sort of the whole table).
    @Test(arguments: Backend.allCases) func usersPageByOffsetOrCursorWithAKeptTotal(_ backend: Backend) async throws {
        let store = try await makeStore(backend)
        let start = Date()
        var users: [User] = []
        for i in 0..<7 {
            var user = makeUser("user\(i)@example.com")
            user.createdAt = start.addingTimeInterval(Double(i))
            users.append(user)
            try await store.insertUser(user)
        }
        let newestFirst = users.reversed().map(\.id)
        var page = try await store.users(limit: 3, offset: 0, before: nil)
        #expect(page.users.map(\.id) == Array(newestFirst[0..<3]))
        #expect(page.total == 7)
        page = try await store.users(limit: 3, offset: 0, before: page.users.last!.id)
        #expect(page.users.map(\.id) == Array(newestFirst[3..<6]))
        page = try await store.users(limit: 3, offset: 0, before: page.users.last!.id)
        #expect(page.users.map(\.id) == [newestFirst[6]])
        #expect(
            try await store.users(limit: 3, offset: 2, before: newestFirst[0]).users.map(\.id)
                == Array(newestFirst[3..<6])
        )
        await #expect(throws: StoreError.notFound) {
            try await store.users(limit: 3, offset: 0, before: "no-such-user")
        }
        #expect(try await store.users(limit: 3, offset: 4, before: nil).users.map(\.id) == Array(newestFirst[4..<7]))

        try await store.deleteUser(id: users[0].id, audit: AuditEvent(.userDeleted, userId: users[0].id))
        #expect(try await store.userCount() == 6)
        #expect(try await store.users(limit: 1, offset: 0, before: nil).total == 6)
        #expect(try await store.users(matching: UserQuery(limit: 1)).total == 6)

        guard let store = store as? SQLiteStore else { return }
        let plan = try await store.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    EXPLAIN QUERY PLAN SELECT * FROM users
                    WHERE (createdAt, id) < (SELECT createdAt, id FROM users WHERE id = ?)
                    ORDER BY createdAt DESC, id DESC LIMIT 50
                    """,
                arguments: ["x"]
            ).map { $0["detail"] as String }.joined(separator: "\n")
        }
        #expect(plan.contains("users_by_created"))
        #expect(!plan.contains("TEMP B-TREE"))
    }

    @Test(arguments: Backend.allCases) func sessionsAreFoundByHashUntilTheyExpire(_ backend: Backend) async throws {
        let store = try await makeStore(backend)
        let user = makeUser()
        try await store.insertUser(user)
        let now = Date()
        let session = Session(
            userId: user.id,
            tokenHash: "h1",
            createdAt: now,
            lastSeenAt: now,
            expiresAt: now.addingTimeInterval(60),
            ip: "127.0.0.1",
            userAgent: "test"
        )
        try await store.insertSession(session, keepAtMost: 20)
        #expect(try await store.session(tokenHash: "h1", now: now)?.0.id == session.id)
        #expect(try await store.session(tokenHash: "h1", now: now.addingTimeInterval(61)) == nil)
        #expect(try await store.session(tokenHash: "other", now: now) == nil)
        #expect(try await store.deleteExpiredSessions(now: now.addingTimeInterval(61)) == 1)
        #expect(try await store.sessions(userId: user.id, now: now).isEmpty)
    }

    @Test(arguments: Backend.allCases) func insertingBeyondTheLimitDropsTheOldest(_ backend: Backend) async throws {
        let store = try await makeStore(backend)
        let user = makeUser()
        try await store.insertUser(user)
        let start = Date()
        for i in 0..<25 {
            let at = start.addingTimeInterval(Double(i))
            try await store.insertSession(
                Session(
                    userId: user.id,
                    tokenHash: "t\(i)",
                    createdAt: at,
                    lastSeenAt: at,
                    expiresAt: at.addingTimeInterval(3600),
                    ip: nil,
                    userAgent: nil
                ),
                keepAtMost: 20
            )
        }
        let left = try await store.sessions(userId: user.id, now: start)
        #expect(left.count == 20)
        #expect(Set(left.map(\.tokenHash)) == Set((5..<25).map { "t\($0)" }))
    }

    @Test(arguments: Backend.allCases) func deletingSessionsIsScopedToTheirUser(_ backend: Backend) async throws {
        let store = try await makeStore(backend)
        let ada = makeUser()
        let bob = makeUser("bob@example.com")
        try await store.insertUser(ada)
        try await store.insertUser(bob)
        let now = Date()
        func session(_ user: User, _ hash: String) -> Session { makeSession(user, hash, now: now, lifetime: 3600) }
        let a1 = session(ada, "a1")
        let a2 = session(ada, "a2")
        let b1 = session(bob, "b1")
        for s in [a1, a2, b1] { try await store.insertSession(s, keepAtMost: 20) }
        #expect(try await store.deleteSession(id: b1.id, userId: ada.id) == false)
        #expect(try await store.deleteSessions(userId: ada.id, keeping: a2.id) == 1)
        #expect(try await store.sessions(userId: ada.id, now: now).map(\.id) == [a2.id])
        #expect(try await store.sessions(userId: bob.id, now: now).count == 1)
    }

    @Test(arguments: Backend.allCases) func concurrentWritersAllSucceed(_ backend: Backend) async throws {
        let store = try await makeStore(backend)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 { group.addTask { try await store.insertUser(makeUser("user\(i)@example.com")) } }
            try await group.waitForAll()
        }
        #expect(try await store.userCount() == 200)
    }
}

/// The session service over the real store, with a clock the test moves.
@Suite struct SessionServiceTests {
    final class Clock: Sendable {
        let value = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        func advance(_ seconds: TimeInterval) { value.withLock { $0 += seconds } }
        var now: Date { value.withLock { $0 } }
    }

    @Test(arguments: Backend.allCases) func tokensResolveSlideAndExpire(_ backend: Backend) async throws {
        let store = try await makeStore(backend)
        let user = makeUser()
        try await store.insertUser(user)
        let clock = Clock()
        let sessions = Sessions(
            store: store,
            settings: { SessionSettings(lifetime: 3600, maxPerUser: 20) },
            now: { clock.now }
        )
        let (token, session) = try await sessions.create(for: user, ip: "10.0.0.1", userAgent: "curl/8")
        // Only the hash is stored.
        #expect(session.tokenHash == Secrets.sha256Hex(token))
        #expect(try await store.session(tokenHash: token, now: clock.now) == nil)

        #expect(try await sessions.resolve(token: token)?.1.id == user.id)
        // Used after 50 minutes: the expiry slides to an hour after that use.
        clock.advance(3000)
        #expect(try await sessions.resolve(token: token) != nil)
        clock.advance(3000)
        #expect(try await sessions.resolve(token: token) != nil)
        // Unused for more than the lifetime: gone.
        clock.advance(3601)
        #expect(try await sessions.resolve(token: token) == nil)
        #expect(try await sessions.resolve(token: "") == nil)
        #expect(try await sessions.resolve(token: String(repeating: "x", count: 10_000)) == nil)
    }

    @Test(arguments: Backend.allCases) func revokeEndsOneOrAll(_ backend: Backend) async throws {
        let store = try await makeStore(backend)
        let user = makeUser()
        try await store.insertUser(user)
        let sessions = Sessions(store: store, settings: { .default })
        let (t1, s1) = try await sessions.create(for: user, ip: nil, userAgent: nil)
        let (t2, _) = try await sessions.create(for: user, ip: nil, userAgent: nil)
        let (t3, s3) = try await sessions.create(for: user, ip: nil, userAgent: nil)
        #expect(try await sessions.revoke(sessionId: s1.id, userId: user.id))
        #expect(try await sessions.resolve(token: t1) == nil)
        #expect(try await sessions.revokeAll(userId: user.id, keeping: s3.id) == 1)
        #expect(try await sessions.resolve(token: t2) == nil)
        #expect(try await sessions.resolve(token: t3) != nil)
    }
}

@Suite struct TimestampTests {
    /// A date shown before it is stored (a 201's createdAt) and after it is read back (a later
    /// GET) must be the same text.
    @Test(arguments: Backend.allCases) func datesReadTheSameAfterARoundTripThroughTheStore(_ backend: Backend)
        async throws
    {
        let store = try await makeStore(backend)
        for _ in 0..<300 {
            let created = Date(timeIntervalSince1970: Double.random(in: 0...4_000_000_000))
            let user = User(
                email: "t\(UUID().uuidString.prefix(8))@example.com",
                passwordHash: "x",
                firstName: "T",
                lastName: "U",
                createdAt: created
            )
            try await store.insertUser(user)
            let stored = try #require(try await store.user(id: user.id))
            #expect(Timestamp.string(stored.createdAt) == Timestamp.string(created), "\(created.timeIntervalSince1970)")
        }
    }

    @Test func theFormatIsISO8601WithMilliseconds() {
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1_705_314_600)) == "2024-01-15T10:30:00.000Z")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1_705_314_600.1239)) == "2024-01-15T10:30:00.124Z")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 0.9996)) == "1970-01-01T00:00:01.000Z")
        #expect(Timestamp.string(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
        #expect(Timestamp.parse("2024-01-15T10:30:00.000Z") == Date(timeIntervalSince1970: 1_705_314_600))
    }
}
