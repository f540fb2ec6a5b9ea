import Foundation
import TestSupport
import Testing

/// The `gatehouse` executable, run as an operator runs it.
@Suite(.serialized) struct ProcessTests {
    let shippedConfig = Paths.root.appendingPathComponent("etc/gatehouse.yaml").path

    func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) async throws -> (
        Int32, String
    ) {
        let child = try ChildProcess(Paths.gatehouse.path, arguments, environment: environment, stdin: stdin)
        let status = try await child.wait()
        return (status, child.text)
    }

    /// A config file: the shipped one with `replacing` applied to its text.
    func config(_ replacements: [(String, String)] = []) throws -> String {
        var text = try String(contentsOfFile: shippedConfig, encoding: .utf8)
        for (from, to) in replacements {
            precondition(text.contains(from), "the shipped config has no \(from)")
            text = text.replacingOccurrences(of: from, with: to)
        }
        let file = try Paths.temporaryDirectory("e2e").appendingPathComponent("gatehouse.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    @Test func checkConfigPassesOnTheShippedConfig() async throws {
        let (status, output) = try await run(["check-config", "--config", shippedConfig])
        #expect(status == 0)
        #expect(output.contains("config OK"))
        #expect(
            output.contains(
                "routes.auth, routes.eclipanel, routes.stellarstack, routes.servers, routes.operations, policy.flags, policy.geoblock, policy.password, policy.age, policy.ratelimit"
            )
        )
    }

    @Test(arguments: [
        (
            [("  secureCookies: false", "  secureCookies: false\n  secureCookie: true")],
            "server.secureCookie: unknown key"
        ),
        ([("  - policy.flags", "  - policy.flagz")], "modules: unknown module \"policy.flagz\""),
        ([("  port: 8080", "  port: 808080")], "server.port: must be between 0 and 65535, got 808080"),
    ])
    func checkConfigNamesTheBadKey(replacements: [(String, String)], message: String) async throws {
        let (status, output) = try await run(["check-config", "--config", try config(replacements)])
        #expect(status == 1)
        #expect(output.contains(message), "output: \(output)")
    }

    @Test func serveCreateLoginReloadAndStop() async throws {
        let dir = try Paths.temporaryDirectory("e2e-serve")
        let database = dir.appendingPathComponent("db/gatehouse.sqlite").path
        let configPath = try config([("  host: 0.0.0.0", "  host: 127.0.0.1"), ("  port: 8080", "  port: 0")])
        let environment = ["GATEHOUSE_DATABASE_PATH": database]

        let (migrated, migrateOutput) = try await run(["migrate", "--config", configPath], environment: environment)
        #expect(migrated == 0)
        #expect(migrateOutput.contains("v1-users-sessions"))

        // The first rootAdmin, password on standard input.
        let (created, createOutput) = try await run(
            [
                "user", "create", "--config", configPath, "--email", "root@example.com", "--first-name", "Root",
                "--last-name", "Admin", "--role", "rootAdmin",
            ],
            environment: environment,
            stdin: "Adm1n!pass\n"
        )
        #expect(created == 0, "\(createOutput)")
        #expect(createOutput.contains("created rootAdmin root@example.com"))
        let (duplicate, duplicateOutput) = try await run(
            [
                "user", "create", "--config", configPath, "--email", "ROOT@example.com", "--first-name", "R",
                "--last-name", "A",
            ],
            environment: environment.merging(["GATEHOUSE_PASSWORD": "An0ther!pass"]) { $1 }
        )
        #expect(duplicate == 1)
        #expect(duplicateOutput.contains("Email already registered"))

        let server = try ChildProcess(
            Paths.gatehouse.path,
            ["serve", "--config", configPath],
            environment: environment
        )
        defer { server.stop() }
        let listening = try await server.waitForLine(containing: "listening on 127.0.0.1:")
        let port = try #require(Int(listening.split(separator: ":").last ?? ""))
        let client = TestClient(port: port)
        #expect(try await client.get("/health").status == 200)
        #expect(try await client.get("/ready").status == 200)
        let token = try await client.login("root@example.com", "Adm1n!pass")
        #expect(try await client.get("/api/users/me", bearer: token).json?["role"] == "rootAdmin")
        // An API key works through both headers; neither it nor the session token reaches the log.
        let key = try #require(
            try await client.post("/api/apikeys", #"{"name":"e2e"}"#, bearer: token).json?["key"]?.stringValue
        )
        #expect(try await client.get("/api/users/me", bearer: key).status == 200)
        #expect(try await client.get("/api/users/me", headers: [("X-API-Key", key)]).status == 200)
        #expect(try await eventually { server.count("GET /api/users/{id} 200") >= 2 })
        #expect(!server.text.contains(key) && !server.text.contains(token) && !server.text.contains("Adm1n!pass"))

        // Switch login off in the file; SIGHUP applies it without a restart.
        try String(contentsOfFile: configPath, encoding: .utf8)
            .replacingOccurrences(of: "  login: true", with: "  login: false")
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        server.signal(SIGHUP)
        _ = try await server.waitForLine(containing: "config reloaded")
        let off = try await client.post("/api/auth/login", #"{"email":"root@example.com","password":"Adm1n!pass"}"#)
        #expect(off.status == 503)
        #expect(off.error == "Login is currently disabled")
        // Sessions already open still work.
        #expect(try await client.get("/api/users/me", bearer: token).status == 200)

        // A broken file is refused; the running config (login off) stays.
        try "features:\n  login: [\n".write(toFile: configPath, atomically: true, encoding: .utf8)
        server.signal(SIGHUP)
        _ = try await server.waitForLine(containing: "config reload refused")
        #expect(
            try await client.post("/api/auth/login", #"{"email":"root@example.com","password":"Adm1n!pass"}"#).status
                == 503
        )
        #expect(try await client.get("/health").status == 200)

        // SIGTERM: a clean stop.
        server.signal(SIGTERM)
        #expect(try await server.wait() == 0)
    }

    /// A server at rest uses next to no CPU: under 0.1 s in 10 s (the outbox lanes sleep between
    /// their polls).
    @Test func anIdleServerSleeps() async throws {
        let dir = try Paths.temporaryDirectory("e2e-idle")
        let server = try ChildProcess(
            Paths.gatehouse.path,
            ["serve", "--config", shippedConfig],
            environment: [
                "GATEHOUSE_SERVER_HOST": "127.0.0.1", "GATEHOUSE_SERVER_PORT": "0",
                "GATEHOUSE_DATABASE_PATH": dir.appendingPathComponent("data/gatehouse.sqlite").path,
            ]
        )
        defer { server.stop() }
        _ = try await server.waitForLine(containing: "listening on 127.0.0.1:")
        /// User and system CPU time so far, in clock ticks (1/100 s).
        func ticks() throws -> Int {
            let stat = try String(contentsOfFile: "/proc/\(server.pid)/stat", encoding: .utf8)
            // Fields after the command name (which ends with ")"): utime and stime are 14 and 15.
            let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
            return Int(fields[11])! + Int(fields[12])!
        }
        try await Task.sleep(for: .seconds(1))
        let before = try ticks()
        try await Task.sleep(for: .seconds(10))
        let used = try ticks() - before
        print("idle server: \(used) ticks of CPU in 10 s")
        #expect(used < 10, "\(used) ticks of CPU in 10 idle seconds")
    }

    @Test func serveRefusesABadConfigBeforeListening() async throws {
        let (status, output) = try await run(
            ["serve", "--config", try config()],
            environment: ["GATEHOUSE_SERVER_PORT": "not-a-port"]
        )
        #expect(status == 1)
        #expect(output.contains("server.port: must be a whole number"))
        #expect(!output.contains("listening"))
    }
}
