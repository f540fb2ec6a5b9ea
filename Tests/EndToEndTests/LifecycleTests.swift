import Foundation
import GRDB
import GatehouseCore
import GatehouseStore
import Synchronization
import TestSupport
import Testing

/// The `gatehouse serve` process at stop and at a crash: SIGTERM and SIGINT end it cleanly and
/// within `server.shutdownTimeout` whatever its clients and its mail server are doing, and
/// `kill -9` loses nothing it acknowledged.
@Suite(.serialized) struct LifecycleTests {
    /// A server on a new database in `directory`, on a free loopback port.
    struct Server {
        let process: ChildProcess
        let port: Int
        let database: String
        var client: TestClient { TestClient(port: port) }
    }

    func start(_ directory: URL, _ environment: [String: String] = [:]) async throws -> Server {
        let database = directory.appendingPathComponent("data/gatehouse.sqlite").path
        var env = [
            "GATEHOUSE_SERVER_HOST": "127.0.0.1", "GATEHOUSE_SERVER_PORT": "0",
            "GATEHOUSE_DATABASE_PATH": database,
            "GATEHOUSE_POLICIES_RATE_LIMIT_REGISTER_LIMIT": "1000000",
            "GATEHOUSE_POLICIES_RATE_LIMIT_GENERAL_LIMIT": "1000000",
        ]
        env.merge(environment) { $1 }
        let process = try ChildProcess(
            Paths.gatehouse.path,
            ["serve", "--config", Paths.root.appendingPathComponent("etc/gatehouse.yaml").path],
            environment: env
        )
        let listening = try await process.waitForLine(containing: "listening on 127.0.0.1:")
        let port = try #require(Int(listening.split(separator: ":").last ?? ""))
        return Server(process: process, port: port, database: database)
    }

    /// The environment that sends mail through SMTP on `port` of loopback.
    func smtp(_ port: Int, _ extra: [String: String] = [:]) -> [String: String] {
        [
            "GATEHOUSE_MAIL_PROVIDER": "smtp", "GATEHOUSE_MAIL_SMTP_HOST": "127.0.0.1",
            "GATEHOUSE_MAIL_SMTP_PORT": String(port), "GATEHOUSE_MAIL_SMTP_SECURITY": "none",
        ].merging(extra) { $1 }
    }

    /// Sends `signal` and waits for the exit; returns the status and the seconds it took.
    func stop(_ server: Server, with signal: Int32 = SIGTERM) async throws -> (Int32, Double) {
        let started = ContinuousClock.now
        server.process.signal(signal)
        let status = try await server.process.wait()
        let elapsed = (ContinuousClock.now - started).components
        return (status, Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
    }

    /// The server's own account of its stop, from the signal to the database closed, in
    /// seconds: the measure of how fast it stops. The time seen from outside also holds the
    /// scheduling of a loaded machine (the signal's delivery, the exit, the reaping).
    func ownStopSeconds(_ server: Server) throws -> Double {
        let stopped = try #require(server.process.lines.first { $0.contains("stopped cleanly in") })
        return try #require(
            Double(stopped.components(separatedBy: "stopped cleanly in ").last?.split(separator: " ").first ?? ""),
            "\(stopped)"
        )
    }

    /// User plus system CPU time of a process so far, in clock ticks (1/100 s).
    func cpuTicks(_ pid: Int32) throws -> Int {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
        return Int(fields[11])! + Int(fields[12])!
    }

    /// Registers ada@example.test and waits until the outbox is delivering her verification
    /// mail (to a mail server that has hung, in the tests that use it).
    func registerWithMailInDelivery(_ server: Server) async throws {
        #expect(try await server.client.post("/api/users/register", registration("ada@example.test")).status == 201)
        let store = try SQLiteStore(path: server.database)
        #expect(try await eventually { try await store.outboxMails().first?.status == .sending })
    }

    func registration(_ email: String) -> String {
        #"{"email":"\#(email)","password":"Str0ng!pass","firstName":"Ada","lastName":"Lovelace"}"#
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalStopsAnIdleServerAtOnceAndClosesTheDatabase(signal: Int32) async throws {
        let server = try await start(try Paths.temporaryDirectory("e2e-stop-idle"))
        defer { server.process.stop() }
        #expect(try await server.client.get("/ready").status == 200)
        try await Task.sleep(for: .milliseconds(500))
        let (status, seconds) = try await stop(server, with: signal)
        print("stop while idle (signal \(signal)): exit \(status) in \(String(format: "%.2f", seconds)) s")
        #expect(status == 0, "\(server.process.text)")
        #expect(try ownStopSeconds(server) < 1)
        #expect(seconds < 30)
        // Closed, not abandoned: the write-ahead log was folded into the file and emptied.
        let log = try? FileManager.default.attributesOfItem(atPath: server.database + "-wal")
        #expect((log?[.size] as? Int ?? 0) == 0)
    }

    @Test func stalledHalfRequestsDoNotHoldTheShutdown() async throws {
        RawConnection.raiseFileLimit()
        // A read timeout far beyond the shutdown's: the stalled clients are not ended by it.
        let server = try await start(
            try Paths.temporaryDirectory("e2e-stop-stalled"),
            ["GATEHOUSE_SERVER_READ_TIMEOUT": "120"]
        )
        defer { server.process.stop() }
        var connections: [RawConnection] = []
        for _ in 0..<40 {  // a head that never ends
            let connection = try RawConnection(port: server.port)
            try connection.send("GET /health HTTP/1.1\r\nHost: gatehouse\r\nX-Slow: ")
            connections.append(connection)
        }
        for _ in 0..<10 {  // a short body against a longer Content-Length
            let connection = try RawConnection(port: server.port)
            try connection.send(
                "POST /api/auth/login HTTP/1.1\r\nHost: gatehouse\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 1000\r\n\r\n{\"email\":\"ada@example.com\","
            )
            connections.append(connection)
        }
        for _ in 0..<10 { connections.append(try RawConnection(port: server.port)) }  // silent
        try await Task.sleep(for: .milliseconds(500))
        let (status, seconds) = try await stop(server)
        print("stop with 60 stalled connections: exit \(status) in \(String(format: "%.2f", seconds)) s")
        // Exit 0, so before the 10 s timeout: the server closed all 60 itself (it waits for
        // every connection to close before it stops cleanly).
        #expect(status == 0, "\(server.process.text)")
        #expect(try ownStopSeconds(server) < 5)
        #expect(server.process.text.contains("stopped cleanly"))
        withExtendedLifetime(connections) {}
    }

    /// 32 clients keep the server busy on kept-alive connections when SIGTERM comes. Every
    /// request is answered whole with 200, or its connection is refused; none is cut off
    /// mid-reply, and none sent on a connection the server had answered before goes unanswered
    /// (the last answers say `Connection: close`), unless the client let the connection sit
    /// idle for the whole grace second after the signal.
    @Test func busyConnectionsAreAnsweredOrRefusedNeverCutOff() async throws {
        let server = try await start(try Paths.temporaryDirectory("e2e-stop-busy"))
        defer { server.process.stop() }
        struct Tally: Sendable {
            var answered = 0, notOK = 0, cut = 0, unansweredOnReused = 0, resetBeforeAccept = 0, refused = 0
            var closeMarked = 0, idleClosed = 0
            mutating func add(_ other: Tally) {
                answered += other.answered
                notOK += other.notOK
                cut += other.cut
                unansweredOnReused += other.unansweredOnReused
                resetBeforeAccept += other.resetBeforeAccept
                refused += other.refused
                closeMarked += other.closeMarked
                idleClosed += other.idleClosed
            }
        }
        let port = server.port
        final class Progress: Sendable { let answered = Atomic(0) }
        let progress = Progress()
        let clients = Task {
            await withTaskGroup(of: Tally.self) { group in
                for _ in 0..<32 {
                    group.addTask {
                        var tally = Tally()
                        while true {
                            guard let connection = try? RawConnection.connect(port: port) else {
                                tally.refused += 1
                                return tally
                            }
                            var answeredHere = 0
                            var lastReply = ContinuousClock.now
                            while true {
                                let sent =
                                    (try? connection.send("GET /ready HTTP/1.1\r\nHost: gatehouse\r\n\r\n")) != nil
                                let reply = sent ? await connection.readReply(within: 60) : .closedBeforeReply
                                if case .complete(let status, let headers, _) = reply {
                                    lastReply = .now
                                    tally.answered += 1
                                    progress.answered.add(1, ordering: .relaxed)
                                    answeredHere += 1
                                    if status != 200 { tally.notOK += 1 }
                                    if headers["connection"] == "close" {
                                        tally.closeMarked += 1
                                        break
                                    }
                                } else if reply == .closedBeforeReply {
                                    if answeredHere == 0 {
                                        tally.resetBeforeAccept += 1
                                    } else if ContinuousClock.now - lastReply > .milliseconds(900) {
                                        tally.idleClosed += 1  // this client stalled (a loaded machine)
                                    } else {
                                        tally.unansweredOnReused += 1
                                    }
                                    break
                                } else {
                                    tally.cut += 1
                                    break
                                }
                            }
                        }
                    }
                }
                var total = Tally()
                for await tally in group { total.add(tally) }
                return total
            }
        }
        // Busy: every client answered a few times (on a loaded machine this takes a while).
        #expect(try await eventually { progress.answered.load(ordering: .relaxed) >= 32 * 4 })
        let (status, seconds) = try await stop(server)
        let tally = await clients.value
        print("stop under 32 busy connections: exit \(status) in \(String(format: "%.2f", seconds)) s; \(tally)")
        #expect(status == 0, "\(server.process.text)")
        #expect(try ownStopSeconds(server) < 5)
        #expect(tally.answered > 32)
        #expect(tally.notOK == 0)
        #expect(tally.cut == 0)
        #expect(tally.unansweredOnReused == 0)
        // Clients open new connections only after SIGTERM (after a `Connection: close`), when
        // nothing listens any more: refused, never accepted and then dropped.
        #expect(tally.resetBeforeAccept == 0)
        #expect(tally.closeMarked + tally.idleClosed == 32)
    }

    /// With the mail server down and a verification mail in the queue, the outbox retries on
    /// its backoff and sleeps in between; SIGTERM stops it at once and the mail stays pending.
    @Test func failingMailSleepsBetweenRetriesAndStopsAtOnce() async throws {
        let down = try SilentListener(listening: false)
        let server = try await start(
            try Paths.temporaryDirectory("e2e-stop-mailfail"),
            smtp(down.port, ["GATEHOUSE_MAIL_OUTBOX_RETRY_DELAY": "1"])
        )
        defer { server.process.stop() }
        #expect(try await server.client.post("/api/users/register", registration("ada@example.test")).status == 201)
        _ = try await server.process.waitForLine(containing: "attempt 1 failed")
        let before = try cpuTicks(server.process.pid)
        try await Task.sleep(for: .seconds(6))
        let used = try cpuTicks(server.process.pid) - before
        // Retries after 1, 2 and 4 s: attempts 2 and 3 (maybe 4) in these 6 s, nothing between.
        let attempts = server.process.count("outbox: mail")
        print("failing mail: \(attempts) attempts and \(used) CPU ticks in 6 s")
        #expect((2...4).contains(attempts))
        #expect(used < 20, "\(used) ticks of CPU in 6 s of retrying")
        let (status, seconds) = try await stop(server)
        print("stop while mail is failing: exit \(status) in \(String(format: "%.2f", seconds)) s")
        #expect(status == 0)
        // Not after the next retry's sleep (4 or 8 s): at once.
        #expect(try ownStopSeconds(server) < 2)
        let mails = try await SQLiteStore(path: server.database).outboxMails()
        #expect(mails.count == 1 && mails[0].status == .pending && mails[0].attempts >= 2)
    }

    /// A delivery to a mail server that has hung outlasts `server.shutdownTimeout`: the process
    /// says what it was waiting for and exits 1; after a restart the mail is delivered.
    @Test func aShutdownPastItsTimeoutExitsOneAndTheMailIsSentAfterRestart() async throws {
        let hung = try SilentListener()
        let directory = try Paths.temporaryDirectory("e2e-stop-timeout")
        let server = try await start(
            directory,
            smtp(hung.port, ["GATEHOUSE_SERVER_SHUTDOWN_TIMEOUT": "2", "GATEHOUSE_MAIL_SMTP_TIMEOUT": "120"])
        )
        defer { server.process.stop() }
        try await registerWithMailInDelivery(server)
        let (status, seconds) = try await stop(server)
        print("stop past the timeout (2 s): exit \(status) in \(String(format: "%.2f", seconds)) s")
        #expect(status == 1)
        // Ended by the 2 s timeout, not by the delivery's own (120 s).
        #expect(seconds >= 2 && seconds < 30)
        let log = server.process.text
        #expect(log.contains("shutdown did not finish within server.shutdownTimeout (2 s)"), "\(log)")
        #expect(log.contains("1 outbox delivery"))
        #expect(!log.contains("stopped cleanly"))

        let mailServer = try await SMTPServer()
        defer { mailServer.stop() }
        let again = try await start(directory, smtp(mailServer.port))
        defer { again.process.stop() }
        let received = try await mailServer.waitForMessages(1)
        #expect(received.map(\.envelopeTo) == [["ada@example.test"]])
        #expect(again.process.text.contains("1 interrupted deliveries will be retried"))
    }

    /// A second SIGTERM or SIGINT ends a shutdown that is stuck, at once.
    @Test func aSecondSignalEndsAStuckShutdownAtOnce() async throws {
        let hung = try SilentListener()
        let server = try await start(
            try Paths.temporaryDirectory("e2e-stop-twice"),
            smtp(hung.port, ["GATEHOUSE_SERVER_SHUTDOWN_TIMEOUT": "60", "GATEHOUSE_MAIL_SMTP_TIMEOUT": "120"])
        )
        defer { server.process.stop() }
        try await registerWithMailInDelivery(server)
        server.process.signal(SIGTERM)
        _ = try await server.process.waitForLine(containing: "shutting down")
        try await Task.sleep(for: .milliseconds(500))
        #expect(server.process.isRunning)
        let (status, seconds) = try await stop(server, with: SIGINT)
        print("second signal during a stuck shutdown: exit \(status) in \(String(format: "%.2f", seconds)) s")
        #expect(status == 1)
        // Not the 60 s shutdown timeout nor the 120 s delivery one: at once.
        #expect(seconds < 30)
        #expect(server.process.text.contains("a second SIGTERM or SIGINT during the shutdown; still running: "))
    }

    /// The accounts in a database, how many are half-made (a user without its verification or
    /// its mail, a mail without its user), and SQLite's integrity check.
    func inspect(_ database: String) async throws -> (Set<String>, Int?, String?) {
        let queue = try DatabaseQueue(path: database)
        defer { try? queue.close() }
        return try await queue.read { db in
            let users = try Set(String.fetchAll(db, sql: "SELECT email FROM users"))
            let halfMade = try Int.fetchOne(
                db,
                sql: """
                    SELECT
                      (SELECT COUNT(*) FROM users u WHERE NOT EXISTS
                         (SELECT 1 FROM email_verifications v WHERE v.userId = u.id))
                    + (SELECT COUNT(*) FROM users u WHERE NOT EXISTS
                         (SELECT 1 FROM mail_outbox m WHERE m."to" = u.email))
                    + (SELECT COUNT(*) FROM mail_outbox m WHERE NOT EXISTS
                         (SELECT 1 FROM users u WHERE u.email = m."to"))
                    """
            )
            return (users, halfMade, try String.fetchOne(db, sql: "PRAGMA integrity_check"))
        }
    }

    final class Acknowledged: Sendable {
        private let state = Mutex<Set<String>>([])
        var count: Int { state.withLock { $0.count } }
        var emails: Set<String> { state.withLock { $0 } }
        func add(_ email: String) { state.withLock { _ = $0.insert(email) } }
    }

    /// 200 registrations from 16 clients, the server killed with SIGKILL partway: after a
    /// restart every registration that was answered 201 is whole (its verification and its mail
    /// with it), every queued verification mail is delivered, and each of those accounts can
    /// verify and sign in. No account exists half-made; the database checks out.
    @Test func aKilledServerLosesNothingItAcknowledged() async throws {
        let mailServer = try await SMTPServer()
        defer { mailServer.stop() }
        let directory = try Paths.temporaryDirectory("e2e-crash")
        let server = try await start(directory, smtp(mailServer.port))
        defer { server.process.stop() }
        let client = server.client
        let acknowledged = Acknowledged()
        let killed = Task {
            let deadline = Date().addingTimeInterval(120)
            while acknowledged.count < 60, Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
            server.process.signal(SIGKILL)
        }
        await withTaskGroup(of: Void.self) { group in
            for lane in 0..<16 {
                group.addTask {
                    for i in stride(from: lane, to: 200, by: 16) {
                        let email = "crash-\(i)@example.test"
                        guard let reply = try? await client.post("/api/users/register", registration(email)) else {
                            continue  // the server is gone: not acknowledged
                        }
                        if reply.status == 201 { acknowledged.add(email) }
                    }
                }
            }
        }
        try await killed.value
        _ = try await server.process.wait()
        let answered = acknowledged.emails

        // The database as the killed process left it.
        let (users, halfMade, integrity) = try await inspect(server.database)
        print("crash: \(answered.count) registrations answered 201 before SIGKILL, \(users.count) accounts stored")
        #expect(answered.count >= 60 && answered.count < 200)
        #expect(answered.isSubset(of: users))
        #expect(halfMade == 0)
        #expect(integrity == "ok")

        let again = try await start(directory, smtp(mailServer.port))
        defer { again.process.stop() }
        var received = try await mailServer.waitForMessages(users.count)
        try await Task.sleep(for: .seconds(1))
        received = try mailServer.messages()
        let recipients = received.flatMap(\.envelopeTo)
        print("crash: \(received.count) verification mails received for \(users.count) accounts")
        #expect(Set(recipients) == users)

        for email in answered.sorted().prefix(20) + answered.sorted().suffix(5) {
            let mail = try #require(received.last { $0.envelopeTo == [email] })
            let text = ParsedMail(mail.raw).parts.first { $0.0.hasPrefix("text/plain") }?.1 ?? ""
            let token = try #require(
                text.components(separatedBy: "verify-email?token=").dropFirst().first?.prefix { !$0.isWhitespace }
            )
            let verified = try await again.client.post("/api/auth/verify-email", #"{"token":"\#(token)"}"#)
            #expect(verified.status == 200, "\(email): \(verified)")
            _ = try await again.client.login(email, "Str0ng!pass")
        }
        let (status, _) = try await stop(again)
        #expect(status == 0)
        let queue = try DatabaseQueue(path: server.database)
        #expect(try await queue.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
    }

    /// 16 clients registering and signing in for 20 s: no 5xx, no "database is locked".
    @Test func sixteenWritersForTwentySecondsGetNoServerError() async throws {
        let server = try await start(try Paths.temporaryDirectory("e2e-writers"))
        defer { server.process.stop() }
        let client = server.client
        let end = Date().addingTimeInterval(20)
        let statuses = await withTaskGroup(of: [Int: Int].self) { group in
            for lane in 0..<16 {
                group.addTask {
                    var counts: [Int: Int] = [:]
                    var i = 0
                    while Date() < end {
                        let email = "writer-\(lane)-\(i)@example.test"
                        i += 1
                        // A sign-up or sign-in shed while the hashing queue is full (503 with
                        // Retry-After) is sent again when it says.
                        let registered =
                            (try? await client.honoringRetryAfter {
                                try await client.post("/api/users/register", registration(email))
                            })?.status ?? 0
                        counts[registered, default: 0] += 1
                        let login = #"{"email":"\#(email)","password":"Str0ng!pass"}"#
                        let signedIn =
                            (try? await client.honoringRetryAfter { try await client.post("/api/auth/login", login) })?
                            .status ?? 0
                        counts[signedIn, default: 0] += 1
                    }
                    return counts
                }
            }
            var all: [Int: Int] = [:]
            for await counts in group { all.merge(counts, uniquingKeysWith: +) }
            return all
        }
        print("16 writers for 20 s: statuses \(statuses.sorted { $0.key < $1.key })")
        #expect(Set(statuses.keys) == [200, 201])
        #expect(statuses[201, default: 0] == statuses[200, default: 0])
        #expect(statuses[201, default: 0] >= 16)
        #expect(!server.process.text.contains("database is locked"))
    }
}
