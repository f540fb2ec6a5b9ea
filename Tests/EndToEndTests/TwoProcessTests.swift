import Foundation
import GatehouseCore
import TestSupport
import Testing

/// Two `gatehouse serve` processes on one PostgreSQL database, requests alternating between
/// them: what one does, the other sees.
@Suite struct TwoProcessTests {
    /// One `gatehouse serve` on `database`, and a client for it.
    struct Process {
        let child: ChildProcess
        let client: TestClient
        let configPath: String
    }

    static let config = """
        mail:
          outbox:
            retryDelay: 1
            maxDelay: 1
        """

    /// The environment of a process on `database`, sharing `keyFile`.
    func environment(_ database: DatabaseURL, keyFile: String, extra: [String: String] = [:]) -> [String: String] {
        [
            "GATEHOUSE_DATABASE_URL": TestPostgres.text(database),
            "GATEHOUSE_DATABASE_TLS": "disable",
            "GATEHOUSE_DATABASE_KEY_FILE": keyFile,
            "GATEHOUSE_SERVER_HOST": "127.0.0.1", "GATEHOUSE_SERVER_PORT": "0",
            "GATEHOUSE_METRICS_ENABLED": "false",
            "GATEHOUSE_POLICIES_RATE_LIMIT_REGISTER_LIMIT": "100000",
        ].merging(extra) { $1 }
    }

    func start(_ environment: [String: String], config: String = TwoProcessTests.config) async throws -> Process {
        let dir = try Paths.temporaryDirectory("e2e-pg")
        let configPath = dir.appendingPathComponent("gatehouse.yaml").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        let child = try ChildProcess(Paths.gatehouse.path, ["serve", "--config", configPath], environment: environment)
        let listening = try await child.waitForLine(containing: "listening on 127.0.0.1:")
        let port = try #require(Int(listening.split(separator: ":").last ?? ""))
        return Process(child: child, client: TestClient(port: port), configPath: configPath)
    }

    func register(_ client: TestClient, _ email: String) async throws {
        let reply = try await client.honoringRetryAfter {
            try await client.post(
                "/api/users/register",
                #"{"email":"\#(email)","password":"Str0ng!pass","firstName":"Ada","lastName":"L"}"#
            )
        }
        #expect(reply.status == 201, "\(reply)")
    }

    /// Started together (one migrates and creates the key, the other waits for it), then:
    /// registration on one and sign-in on the other; a session revoked through one fails on the
    /// other on the next request, a hundred times over; the sign-in lockout counts across both;
    /// a reload changes only the process it is sent to.
    @Test func twoProcessesServeOneDatabase() async throws {
        let database = try await TestPostgres.freshDatabase()
        let keyFile = try Paths.temporaryDirectory("e2e-pg-key").appendingPathComponent("server.key").path
        let env = environment(database, keyFile: keyFile)
        async let first = start(env)
        async let second = start(env)
        let (a, b) = try await (first, second)
        defer {
            a.child.stop()
            b.child.stop()
        }
        #expect(FileManager.default.fileExists(atPath: keyFile))

        try await register(a.client, "ada@example.com")
        let token = try await b.client.login("ada@example.com", "Str0ng!pass")
        #expect(try await a.client.get("/api/users/me", bearer: token).json?["email"] == "ada@example.com")

        // Revoked through A, refused by B on the very next request, though B had it cached.
        for round in 0..<100 {
            let session = try await a.client.login("ada@example.com", "Str0ng!pass")
            #expect(try await b.client.get("/api/users/me", bearer: session).status == 200)
            #expect(try await b.client.get("/api/users/me", bearer: session).status == 200)
            let (revoker, other) = round.isMultiple(of: 2) ? (a, b) : (b, a)
            #expect(try await revoker.client.post("/api/auth/logout", "{}", bearer: session).status == 200)
            #expect(try await other.client.get("/api/users/me", bearer: session).status == 401, "round \(round)")
        }
        // The first session was never revoked.
        #expect(try await b.client.get("/api/users/me", bearer: token).status == 200)

        // Thirty wrong passwords at once, half through each process: at most five are checked
        // (401), the rest refused unchecked (429); then the right one is refused on both.
        try await register(b.client, "bob@example.com")
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<30 {
                let client = i.isMultiple(of: 2) ? a.client : b.client
                group.addTask {
                    try await client.post("/api/auth/login", #"{"email":"bob@example.com","password":"wrong"}"#).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 401 }.count <= 5, "\(statuses)")
        #expect(statuses.filter { $0 == 429 }.count >= 25, "\(statuses)")
        for process in [a, b] {
            let right = try await process.client.post(
                "/api/auth/login",
                #"{"email":"bob@example.com","password":"Str0ng!pass"}"#
            )
            #expect(right.status == 429)
        }

        // A reload is the process's own: login off on A only.
        try (Self.config + "\nfeatures:\n  login: false\n").write(
            toFile: a.configPath,
            atomically: true,
            encoding: .utf8
        )
        a.child.signal(SIGHUP)
        _ = try await a.child.waitForLine(containing: "config reloaded")
        let off = try await a.client.post("/api/auth/login", #"{"email":"ada@example.com","password":"Str0ng!pass"}"#)
        #expect(off.status == 503)
        #expect(
            try await b.client.post(
                "/api/auth/login",
                #"{"email":"ada@example.com","password":"Str0ng!pass"}"#
            ).status == 200
        )
        // Sessions stay good on both.
        #expect(try await a.client.get("/api/users/me", bearer: token).status == 200)

        for process in [a, b] { process.child.signal(SIGTERM) }
        #expect(try await a.child.wait() == 0)
        #expect(try await b.child.wait() == 0)
    }

    /// A process killed while it delivers a mail (the provider never answers it) leaves the mail
    /// to the other, which delivers it once the claim's lease has run out.
    @Test func aMailWhoseProcessDiedIsDeliveredByTheOther() async throws {
        let standIn = try await ProviderStandIn(replies: [
            .init(status: 200, body: #"{"id":"never-sent"}"#, delay: .seconds(15)),
            .init(status: 200, body: #"{"id":"49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}"#),
        ])
        let database = try await TestPostgres.freshDatabase()
        let keyFile = try Paths.temporaryDirectory("e2e-pg-key").appendingPathComponent("server.key").path
        let env = environment(
            database,
            keyFile: keyFile,
            extra: [
                "EMAIL_PROVIDER": "resend", "RESEND_API_KEY": "re_test_123",
                "GATEHOUSE_MAIL_RESEND_BASE_URL": standIn.baseURL,
                "GATEHOUSE_MAIL_RESEND_TIMEOUT": "60",
                "GATEHOUSE_MAIL_OUTBOX_LEASE": "6",
            ]
        )
        // B alone claims the verification mail, and hangs on the provider.
        let b = try await start(env)
        try await register(b.client, "ada@example.com")
        #expect(try await eventually { !standIn.requests.isEmpty })
        #expect(standIn.requests.count == 1)
        kill(b.child.pid, SIGKILL)
        _ = try await b.child.wait()
        let claimed = try await TestPostgres.rows(
            #"SELECT "status", "attempts"::text FROM mail_outbox"#,
            on: database
        )
        #expect(claimed == [["sending", "1"]])

        // A starts, finds the claim alive, waits for its lease, then delivers.
        let a = try await start(env)
        defer { a.child.stop() }
        _ = try await a.child.waitForLine(containing: "delivered")
        #expect(standIn.requests.count == 2)
        #expect(standIn.requests.map(\.body).allSatisfy { $0.contains("ada@example.com") })
        let sent = try await TestPostgres.rows(
            #"SELECT "status", "attempts"::text, "messageId" FROM mail_outbox"#,
            on: database
        )
        #expect(sent == [["sent", "2", "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"]])
        await standIn.stop()
    }
}

/// Moving an installation from SQLite to PostgreSQL with `gatehouse copy-store`, and what
/// `migrate` and `backup` do on PostgreSQL.
@Suite struct CopyStoreTests {
    func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        let child = try ChildProcess(Paths.gatehouse.path, arguments, environment: environment)
        let status = try await child.wait(timeout: 120)
        return (status, child.text)
    }

    @Test func aSQLiteInstallationMovesToPostgreSQL() async throws {
        let dir = try Paths.temporaryDirectory("e2e-copy")
        let path = dir.appendingPathComponent("gatehouse.sqlite").path
        let sqliteEnv = [
            "GATEHOUSE_DATABASE_PATH": path, "GATEHOUSE_SERVER_HOST": "127.0.0.1", "GATEHOUSE_SERVER_PORT": "0",
            "GATEHOUSE_METRICS_ENABLED": "false",
        ]
        // A SQLite installation with accounts, a session, an API key and two-factor codes.
        let old = try ChildProcess(Paths.gatehouse.path, ["serve"], environment: sqliteEnv)
        let listening = try await old.waitForLine(containing: "listening on 127.0.0.1:")
        var client = TestClient(port: try #require(Int(listening.split(separator: ":").last ?? "")))
        for name in ["ada", "bob", "cy"] {
            let reply = try await client.post(
                "/api/users/register",
                #"{"email":"\#(name)@example.com","password":"Str0ng!pass","firstName":"A","lastName":"L"}"#
            )
            #expect(reply.status == 201)
        }
        let token = try await client.login("ada@example.com", "Str0ng!pass")
        let key = try #require(
            try await client.post("/api/apikeys", #"{"name":"ci"}"#, bearer: token).json?["key"]?.stringValue
        )
        old.signal(SIGTERM)
        #expect(try await old.wait() == 0)

        let database = try await TestPostgres.freshDatabase()
        let target = TestPostgres.text(database)
        // The target from the environment, its password off the command line; the key file
        // for the target is then named too (database.url wants one): the SQLite one's.
        let copyEnv = [
            "GATEHOUSE_DATABASE_URL": target, "GATEHOUSE_DATABASE_TLS": "disable",
            "GATEHOUSE_DATABASE_KEY_FILE": path + ".key",
        ]
        let (copied, output) = try await run(["copy-store", "--from", "sqlite:\(path)"], environment: copyEnv)
        #expect(copied == 0, "\(output)")
        #expect(output.contains("users: 3 rows"))
        #expect(output.contains("counts checked"))
        #expect(!output.contains(database.password ?? "-"))
        // A second copy into the same (now full) database is refused, and changes nothing.
        let (again, againOutput) = try await run(
            ["copy-store", "--from", "sqlite:\(path)", "--to", target],
            environment: copyEnv
        )
        #expect(again != 0)
        #expect(againOutput.contains("not empty"))

        // The PostgreSQL installation, on the SQLite one's key file.
        let pgEnv = [
            "GATEHOUSE_DATABASE_URL": target, "GATEHOUSE_DATABASE_TLS": "disable",
            "GATEHOUSE_DATABASE_KEY_FILE": path + ".key", "GATEHOUSE_SERVER_HOST": "127.0.0.1",
            "GATEHOUSE_SERVER_PORT": "0", "GATEHOUSE_METRICS_ENABLED": "false",
        ]
        let (migrated, migrateOutput) = try await run(["migrate"], environment: pgEnv)
        #expect(migrated == 0, "\(migrateOutput)")
        #expect(migrateOutput.contains("pg3-user-count-deltas"))
        #expect(!migrateOutput.contains(database.password ?? "-"))
        let (backedUp, backupOutput) = try await run(
            ["backup", dir.appendingPathComponent("b").path],
            environment: pgEnv
        )
        #expect(backedUp != 0)
        #expect(backupOutput.contains("pg_dump"))

        let new = try ChildProcess(Paths.gatehouse.path, ["serve"], environment: pgEnv)
        defer { new.stop() }
        let newListening = try await new.waitForLine(containing: "listening on 127.0.0.1:")
        client = TestClient(port: try #require(Int(newListening.split(separator: ":").last ?? "")))
        // The session, the API key and the passwords came along.
        #expect(try await client.get("/api/users/me", bearer: token).json?["email"] == "ada@example.com")
        #expect(try await client.get("/api/users/me", bearer: key).status == 200)
        _ = try await client.login("cy@example.com", "Str0ng!pass")
        let users = try await TestPostgres.rows(#"SELECT COUNT(*)::text FROM users"#, on: database)
        #expect(users == [["3"]])
    }
}
