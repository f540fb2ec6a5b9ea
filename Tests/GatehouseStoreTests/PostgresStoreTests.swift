import Foundation
import GatehouseCore
import Logging
import Synchronization
import TestSupport
import Testing

@testable import GatehousePostgres
@testable import GatehouseStore

/// What PostgreSQL adds over SQLite: several processes on one database. Two stores on one
/// database are two processes here (each with its own pool, caches and listener).
@Suite struct PostgresStoreTests {
    /// Two processes starting together migrate once; the migrations are SQLite's, by name.
    @Test func twoStoresMigratingTogetherMigrateOnce() async throws {
        let url = try await TestPostgres.freshDatabase()
        async let first = makePostgresStore(url)
        async let second = makePostgresStore(url)
        let (a, b) = try await (first, second)
        let sqlite = try await makeStore()
        // SQLite's, then PostgreSQL's own.
        let expected =
            try await sqlite.appliedMigrations() + [
                "pg1-outbox-lease", "pg2-shared-rate-limits", "pg3-user-count-deltas",
            ]
        #expect(try await a.appliedMigrations() == expected)
        #expect(try await b.appliedMigrations() == expected)
        try await a.close()
        try await b.close()
    }

    /// A revocation through one process is seen by the other on its next lookup after the
    /// revoking call returned, every time, though both had the session cached.
    @Test func aRevocationThroughOneProcessEndsTheSessionOnTheOther() async throws {
        let url = try await TestPostgres.freshDatabase()
        // An acknowledgement B sends late on a loaded machine is still waited for: the test is of
        // the notices, not of their timeout (which lets a hung process not hold every write up).
        let (a, b) = (
            try await makePostgresStore(url, noticeTimeout: .seconds(15)),
            try await makePostgresStore(url, noticeTimeout: .seconds(15))
        )
        try await waitUntilListening(a, b)
        let user = makeUser()
        try await a.insertUser(user)
        let now = Date()
        for round in 0..<100 {
            let session = makeSession(user, "t\(round)", now: now)
            try await a.insertSession(session, keepAtMost: 200)
            #expect(try await a.session(tokenHash: "t\(round)", now: now) != nil)
            // Cached on B (a read that overlapped the insert's notice, or one while B's listening
            // connection was down on a loaded machine, is not kept: read again).
            let cachedOnB = try await eventually {
                try await b.session(tokenHash: "t\(round)", now: now) != nil
                    && b.sessionCache.lookup("t\(round)") != nil
            }
            #expect(cachedOnB, "round \(round)")
            #expect(try await a.deleteSession(id: session.id, userId: user.id))
            #expect(try await b.session(tokenHash: "t\(round)", now: now) == nil, "round \(round)")
        }
        // A suspension, the same way.
        try await a.insertSession(makeSession(user, "last", now: now), keepAtMost: 200)
        #expect(try await b.session(tokenHash: "last", now: now)?.1.suspended == false)
        var suspended = user
        suspended.suspended = true
        try await a.updateUser(suspended)
        #expect(try await b.session(tokenHash: "last", now: now)?.1.suspended == true)
        try await a.close()
        try await b.close()
    }

    /// A process whose listening connection drops keeps nothing cached until it listens again:
    /// a revocation it could not hear of meanwhile still takes effect there.
    @Test func aProcessNotListeningCachesNothing() async throws {
        // B waits 10 s before listening again: the steps below happen in that window.
        let (url, a, b, user, session, now) = try await twoProcessesWithASession(bListenRetry: .seconds(10))
        #expect(try await b.session(tokenHash: "t", now: now) != nil)

        // Every listening connection is ended by the server; B notices, and stops caching.
        try await TestPostgres.execute(
            """
            SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity
            WHERE application_name = 'gatehouse-listen' AND datname = current_database()
            """,
            on: url
        )
        try await waitUntil { !b.notices.listening }
        #expect(b.sessionCache.lookup("t") == nil)
        #expect(try await b.session(tokenHash: "t", now: now) != nil)
        #expect(b.sessionCache.lookup("t") == nil)  // read, not kept
        // A revocation B cannot hear of.
        #expect(try await a.deleteSession(id: session.id, userId: user.id))
        #expect(try await b.session(tokenHash: "t", now: now) == nil)

        // Both listen again, and cache again.
        try await waitUntilListening(a, b)
        try await a.insertSession(makeSession(user, "u", now: now), keepAtMost: 20)
        #expect(
            try await eventually {
                try await b.session(tokenHash: "u", now: now) != nil && b.sessionCache.lookup("u") != nil
            }
        )
        try await a.close()
        try await b.close()
    }

    /// A process listening but slow to handle a notice (its threads starved, say) no longer
    /// trusts its cache by the time the writer stops waiting for it: a revocation is never
    /// answered while that process could still answer from a stale entry.
    @Test func aSlowListenerStopsTrustingItsCacheBeforeTheWriterGivesUp() async throws {
        let url = try await TestPostgres.freshDatabase()
        let a = try await makePostgresStore(url)
        let user = makeUser()
        try await a.insertUser(user)
        // B: a listener whose handling of this user's notices waits at a gate.
        let gate = Gate()
        var logger = Logger(label: "slow-listener")
        logger.logLevel = .critical
        let b = CredentialNotices(configuration: a.notices.configuration, logger: logger) { userId in
            if userId == user.id { await gate.pass() }
        }
        let listening = Task { await b.run() }
        defer {
            gate.open()
            listening.cancel()
        }
        #expect(try await eventually { a.notices.listening && b.trusted })
        let session = makeSession(user, "t", now: Date())
        try await a.insertSession(session, keepAtMost: 20)
        #expect(try await eventually { b.trusted })

        gate.close()
        let started = ContinuousClock.now
        #expect(try await a.deleteSession(id: session.id, userId: user.id))
        // The writer waited for B's acknowledgement, and gave up on it; B trusts its cache no more.
        #expect(ContinuousClock.now - started >= a.notices.ackTimeout)
        #expect(!b.trusted)
        // Its notices handled, B trusts its cache again.
        gate.open()
        #expect(try await eventually { b.trusted })
        listening.cancel()
        await listening.value
        try await a.close()
    }

    /// The same through the store: a process whose listening connection stops without a word
    /// (the server process behind it halted) answers from the database, not from its cached
    /// entry, once the revoking write on another process has answered.
    @Test func aListenerCutOffWithoutAWordIsNotTrustedOnceTheWriterAnswers() async throws {
        let (url, a, b, user, session, now) = try await twoProcessesWithASession()
        #expect(
            try await eventually {
                try await b.session(tokenHash: "t", now: now) != nil && b.sessionCache.lookup("t") != nil
            }
        )

        // Every listening server process of this database (the test cluster runs on this machine)
        // halts (SIGSTOP), and goes on again as soon as the check is done, or after 8 s
        // whatever happens: one halted holding the notice queue's lock would hold up every
        // NOTIFY of the cluster until then.
        let halted = try await TestPostgres.rows(
            """
            SELECT pid::text FROM pg_stat_activity
            WHERE application_name = 'gatehouse-listen' AND datname = current_database()
            """,
            on: url
        ).compactMap { $0[0].flatMap { Int32($0) } }
        try #require(halted.count == 2)
        for pid in halted {
            let command = try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
            try #require(command.hasPrefix("postgres"), "pid \(pid) is \(command), not the test cluster's")
        }
        let resume: @Sendable () -> Void = { for pid in halted { kill(pid, SIGCONT) } }
        defer { resume() }
        final class Flag: Sendable { let set = Atomic(false) }
        let resumedBySafety = Flag()
        let safety = Task {
            try? await Task.sleep(for: .seconds(8))
            resumedBySafety.set.store(true, ordering: .relaxed)
            resume()
        }
        for pid in halted { try #require(kill(pid, SIGSTOP) == 0) }
        #expect(try await a.deleteSession(id: session.id, userId: user.id))
        // B has not heard (its entry may be gone anyway if its heartbeat has failed by now).
        #expect(try await b.session(tokenHash: "t", now: now) == nil)
        // Closing does not wait for the halted server processes (a beat may be on its way to
        // them, its deadline cancelled with the listening): both close before they go on.
        try await a.close()
        try await b.close()
        let resumedEarly = resumedBySafety.set.load(ordering: .relaxed)
        #expect(!resumedEarly)
        resume()
        safety.cancel()
    }

    /// Two processes claiming the outbox together never claim the same mail, and claim all.
    /// A claim is a lease: when its process dies, the mail is claimed again once it runs out.
    @Test func outboxClaimsAreExclusiveAndLeased() async throws {
        let url = try await TestPostgres.freshDatabase()
        let (a, b) = (try await makePostgresStore(url), try await makePostgresStore(url))
        let now = Date()
        let mails = (0..<60).map { i in
            OutboxMail(message: MailMessage(to: "u\(i)@example.com", subject: "S", text: "t", html: "h"), now: now)
        }
        try await a.enqueueMails(mails)
        let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
            for store in [a, b, a, b] {
                group.addTask {
                    var ids: [String] = []
                    while let mail = try await store.claimDueMail(now: now) { ids.append(mail.id) }
                    return ids
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(claimed.count == 60)
        #expect(Set(claimed) == Set(mails.map(\.id)))

        // Nothing is due while the leases run; a start (release) leaves live leases alone.
        #expect(try await b.claimDueMail(now: now.addingTimeInterval(10)) == nil)
        #expect(try await b.releaseClaimedMail() == 0)
        // A delivered mail stays delivered; one whose lease ran out is claimed again.
        try await a.recordMailSent(id: mails[0].id, messageId: "m0", at: now)
        let later = now.addingTimeInterval(a.outboxLease + 1)
        var again: [OutboxMail] = []
        while let mail = try await b.claimDueMail(now: later) { again.append(mail) }
        #expect(again.count == 59)
        #expect(!again.contains { $0.id == mails[0].id })
        #expect(again.allSatisfy { $0.attempts == 2 && $0.status == .sending })
        // The first claim's late outcome changes nothing: the mail is the second claim's now.
        let taken = again[0]
        try await a.recordMailRetry(id: taken.id, attempt: 1, error: "late", nextAttemptAt: now)
        try await a.recordMailFailed(id: taken.id, attempt: 1, error: "late")
        #expect(try await b.outboxMail(id: taken.id)?.status == .sending)
        try await b.recordMailFailed(id: taken.id, attempt: 2, error: "given up")
        #expect(try await b.outboxMail(id: taken.id)?.status == .failed)
        try await a.close()
        try await b.close()
    }

    /// The checks a write makes hold across processes: of twenty concurrent new keys for one
    /// account through two processes, exactly the limit's worth are kept; of two rootAdmins
    /// each demoted through another process at once, one stays.
    @Test func limitsAndTheLastRootAdminHoldAcrossProcesses() async throws {
        let url = try await TestPostgres.freshDatabase()
        let (a, b) = (try await makePostgresStore(url), try await makePostgresStore(url))
        let user = makeUser()
        try await a.insertUser(user)
        let kept = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<20 {
                let store = i.isMultiple(of: 2) ? a : b
                group.addTask {
                    let key = APIKey(
                        userId: user.id,
                        name: "k\(i)",
                        prefix: "gh_\(i)",
                        keyHash: "hash-\(i)",
                        createdAt: Date()
                    )
                    return try await store.insertAPIKey(
                        key,
                        maxPerUser: 5,
                        audit: AuditEvent(.apiKeyCreated, userId: user.id),
                        mails: []
                    )
                }
            }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(kept == 5)
        #expect(try await b.apiKeys(userId: user.id).count == 5)

        var roots: [User] = []
        for name in ["root1", "root2"] {
            var root = makeUser("\(name)@example.com")
            root.role = .rootAdmin
            try await a.insertUser(root)
            roots.append(root)
        }
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for (index, root) in roots.enumerated() {
                let store = index == 0 ? a : b
                group.addTask {
                    var demoted = root
                    demoted.role = .admin
                    var change = AccountChange(user: demoted)
                    change.demotesRootAdmin = true
                    do {
                        try await store.applyAccountChange(change)
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1)
        #expect(try await a.count(role: .rootAdmin) == 1)
        try await a.close()
        try await b.close()
    }

    /// The lockout's slots are shared: thirty checks reserved at once through two processes
    /// get the window's five slots between them, no more; a lock holds for both.
    @Test func rateLimitSlotsAndLocksAreSharedAcrossProcesses() async throws {
        let url = try await TestPostgres.freshDatabase()
        let (a, b) = (try await makePostgresStore(url), try await makePostgresStore(url))
        let limits = [try #require(a.sharedRateLimits), try #require(b.sharedRateLimits)]
        let now = Date()
        let granted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<30 {
                group.addTask {
                    try await limits[i % 2].reserve("login:ada@example.com", limit: 5, window: 900, now: now) == nil
                }
            }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(granted == 5)
        #expect(try await limits[1].count("login:ada@example.com", now: now) == 5)
        try await limits[0].release("login:ada@example.com", now: now)
        #expect(try await limits[1].reserve("login:ada@example.com", limit: 5, window: 900, now: now) == nil)
        // The window ends: the count starts again.
        #expect(try await limits[0].count("login:ada@example.com", now: now.addingTimeInterval(901)) == 0)

        let until = now.addingTimeInterval(900)
        #expect(try await limits[0].lock("login:ada@example.com", until: until, now: now))
        #expect(try await !limits[1].lock("login:ada@example.com", until: until, now: now))
        let lockedUntil = try #require(try await limits[1].lockedUntil("login:ada@example.com", now: now))
        #expect(abs(lockedUntil.timeIntervalSince(until)) < 0.001)
        #expect(try await limits[1].reserve("other", limit: 1, window: 60, now: now) == nil)
        #expect(try await limits[1].reserve("other", limit: 1, window: 60, now: now) != nil)

        // A fixed window of hits, counted across both.
        for i in 0..<6 { _ = try await limits[i % 2].hit("request:ip:10.0.0.1", window: 60, now: now) }
        let (count, resetAt) = try await limits[0].hit("request:ip:10.0.0.1", window: 60, now: now)
        #expect(count == 7 && abs(resetAt.timeIntervalSince(now.addingTimeInterval(60))) < 0.001)
        #expect(try await limits[1].hit("request:ip:10.0.0.1", window: 60, now: now.addingTimeInterval(61)).count == 1)
        // A reset does not lift a lock in force; after it, it forgets.
        try await limits[0].reset("login:ada@example.com", unlessLockedAt: now)
        #expect(try await limits[1].lockedUntil("login:ada@example.com", now: now) != nil)
        try await limits[0].reset("login:ada@example.com", unlessLockedAt: until)
        #expect(try await limits[1].lockedUntil("login:ada@example.com", now: now) == nil)
        try await a.close()
        try await b.close()
    }

    /// Every process needs the key the database was set up with: the first creates it; one
    /// with another key, or none, is refused instead of making a new one.
    @Test func everyProcessMustBringTheSameServerKey() async throws {
        let url = try await TestPostgres.freshDatabase()
        let dir = try Paths.temporaryDirectory("keys")
        let keyFile = dir.appendingPathComponent("server.key").path
        let first = try await makePostgresStore(url)
        let key = try await first.migrateAndLoadKey(keyFile: keyFile)
        #expect(FileManager.default.fileExists(atPath: keyFile))
        // The same file: the same key.
        #expect(try await first.migrateAndLoadKey(keyFile: keyFile).hash("x") == key.hash("x"))

        let other = dir.appendingPathComponent("other.key").path
        _ = try SecretKey.loadOrCreate(path: other)
        await #expect(throws: ServerKeyError.mismatch(path: other)) {
            _ = try await first.migrateAndLoadKey(keyFile: other)
        }
        let missing = dir.appendingPathComponent("missing.key").path
        await #expect(throws: ServerKeyError.missing(path: missing)) {
            _ = try await first.migrateAndLoadKey(keyFile: missing)
        }
        #expect(!FileManager.default.fileExists(atPath: missing))
        try await first.close()
    }

    /// TLS as `database.tls` says, against the test cluster, whose certificate (for localhost
    /// and 127.0.0.1) is its own CA: `verify-full` with that CA connects over TLS by name or by
    /// the address the certificate names, and refuses another address of the same server
    /// (127.0.0.2), which `require` with the private CA accepts; `require` without a CA file
    /// checks against the system's CAs, which do not know it.
    @Test func theTLSModesCheckWhatTheySay() async throws {
        guard let ca = ProcessInfo.processInfo.environment["TEST_POSTGRES_CA"] else {
            throw TestFailure("TEST_POSTGRES_CA is not set: run the tests with scripts/run-tests.sh")
        }
        let url = try await TestPostgres.freshDatabase()
        var byName = url
        byName.host = "localhost"
        var otherAddress = url
        otherAddress.host = "127.0.0.2"
        var logger = Logger(label: "tls-test")
        logger.logLevel = .critical
        /// Whether the store's connection is encrypted, once migrated.
        func encrypted(_ url: DatabaseURL, _ tls: CoreSettings.Database.TLS, _ caFile: String?) async throws -> Bool {
            let store = try PostgresStore(url: url, tls: tls, caFile: caFile, maxConnections: 2, logger: logger)
            do {
                try await store.migrate()
                let row = try await store.read("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").first
                try await store.close()
                return try row?.get("ssl") ?? false
            } catch {
                try? await store.close()
                throw error
            }
        }
        #expect(try await encrypted(byName, .verifyFull, ca))
        #expect(try await encrypted(url, .verifyFull, ca))
        #expect(try await encrypted(otherAddress, .require, ca))
        #expect(try await !encrypted(url, .disable, nil))
        await #expect(throws: PostgresUnreachable.self) { _ = try await encrypted(otherAddress, .verifyFull, ca) }
        await #expect(throws: PostgresUnreachable.self) { _ = try await encrypted(byName, .require, nil) }
    }

    /// Two processes on a fresh database, both listening, and a user with the session "t" made
    /// through A.
    func twoProcessesWithASession(bListenRetry: Duration = .milliseconds(500)) async throws -> (
        url: DatabaseURL, a: PostgresStore, b: PostgresStore, user: User, session: Session, now: Date
    ) {
        let url = try await TestPostgres.freshDatabase()
        let (a, b) = (try await makePostgresStore(url), try await makePostgresStore(url, listenRetry: bListenRetry))
        try await waitUntilListening(a, b)
        let user = makeUser()
        try await a.insertUser(user)
        let now = Date()
        let session = makeSession(user, "t", now: now)
        try await a.insertSession(session, keepAtMost: 20)
        return (url, a, b, user, session, now)
    }

    func waitUntilListening(_ stores: PostgresStore...) async throws {
        try await waitUntil { stores.allSatisfy(\.notices.listening) }
    }

    func waitUntil(_ condition: () -> Bool) async throws {
        guard try await eventually(every: .milliseconds(20), condition) else {
            throw TestFailure("the condition did not hold within \(Int(eventualTimeout)) s")
        }
    }
}

/// A gate tasks wait at while it is closed.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((true, []))

    func close() { state.withLock { $0.open = false } }

    func open() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func pass() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state in
                if !state.open { state.waiting.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }
}
