import Foundation
import GatehouseCore
import GatehouseStore
import Hummingbird
import Logging
import ServiceLifecycle
import StandardModules
import TestSupport

@testable import GatehouseHost

/// The modules that ship, as the executable registers them.
let standardModules = ModuleRegistry(StandardModules.all)

/// The real server, in this process, on a loopback port, over a real SQLite file in a fresh
/// folder. `yaml` is the config file's text; `environment` overrides it; `modules` are those it
/// may load (a test may add its own).
final class TestServer: Sendable {
    let host: GatehouseServer
    let client: TestClient
    let port: Int
    let directory: URL
    let configPath: String
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    static let password = "S3cret!pass"

    init(yaml: String = "", environment: [String: String] = [:], modules: ModuleRegistry = standardModules)
        async throws
    {
        directory = try Paths.temporaryDirectory("server")
        configPath = directory.appendingPathComponent("gatehouse.yaml").path
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        var env = [
            "GATEHOUSE_SERVER_HOST": "127.0.0.1",
            "GATEHOUSE_SERVER_PORT": "0",
            "GATEHOUSE_DATABASE_PATH": directory.appendingPathComponent("data/gatehouse.sqlite").path,
            // The suites register many accounts from 127.0.0.1; RateLimitTests set their own limits.
            "GATEHOUSE_POLICIES_RATE_LIMIT_REGISTER_LIMIT": "100000",
            // The suites share two cores, where the hashing threads (at nice 10) can wait past
            // the 3 s a server sheds after while another suite keeps the cores busy. A hash here
            // waits up to 20 s, less than the test client's 120 s, so a starved one ends as a 503
            // with Retry-After that the client honours, never as a client timeout. The shedding
            // tests set their own queue.
            "GATEHOUSE_PASSWORD_HASHING_MAX_WAIT": "20000",
        ]
        env.merge(environment) { $1 }
        var logger = Logger(label: "gatehouse-test")
        logger.logLevel = .warning
        host = try await GatehouseServer.boot(
            ConfigSource(filePath: configPath, environment: env, registry: modules),
            logger: logger
        )
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = host.application(onListening: { port in continuation.yield(port) })
        let group = ServiceGroup(services: [app], logger: logger)
        self.group = group
        task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("server did not start") }
        self.port = port
        client = TestClient(port: port)
    }

    var core: Core { host.core }

    /// Every mail in the outbox, oldest first.
    func outboxMails() async throws -> [OutboxMail] {
        guard let store = core.store as? SQLiteStore else { throw TestFailure("the store is not SQLite") }
        return try await store.outboxMails()
    }

    /// Creates a user straight through the core (the CLI's path); returns it. A hash the busy
    /// hashing queue sheds is tried again, as a client honouring `Retry-After` would.
    @discardableResult
    func createUser(_ email: String, role: Role = .user, password: String = TestServer.password) async throws -> User {
        let user = NewUser(
            email: email,
            password: password,
            firstName: "Test",
            lastName: "User",
            role: role,
            emailVerified: true
        )
        for _ in 0..<10 {
            do {
                return try await core.accounts.create(user)
            } catch let error as GatehouseError where error == .hashingBusy {
                try await Task.sleep(for: .seconds(2))
            }
        }
        return try await core.accounts.create(user)
    }

    /// Rewrites the config file (for reload tests).
    func writeConfig(_ yaml: String) throws {
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// A server for the length of `body`, shut down (and waited for) when it returns or throws.
    static func run(
        yaml: String = "",
        environment: [String: String] = [:],
        modules: ModuleRegistry = standardModules,
        _ body: (TestServer) async throws -> Void
    ) async throws {
        let server = try await TestServer(yaml: yaml, environment: environment, modules: modules)
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// Shuts the server down gracefully and waits for it.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}
