import Foundation
import GatehouseCore
import Hummingbird
import StandardModules
import Synchronization
import TestSupport
import Testing

@testable import GatehouseHost

// Three modules defined here, in a test target, as README's "Adding a module" says: a type
// conforming to a module protocol, registered beside the standard ones. Nothing in Sources/ or
// Plugins/ knows them.

/// `routes.echo`: one route that answers who is signed in, a feature (`features.echo`).
struct EchoRoutes: RouteModule {
    static let id = "routes.echo"
    static let echo = Feature("echo")
    static let features = [echo]
    let greeting: String

    init(config: ConfigSection) throws {
        greeting = try config.section("echo").string("greeting", default: "hello")
    }

    static func mount(on router: RouterGroup<GatehouseContext>, core: Core) {
        router.get("api/echo") { _, context in
            let principal = try context.requirePrincipal()
            try await core.checkPolicies(PolicyInput.feature(echo, principal: principal))
            // The instance of the config in force: a reload changes the greeting.
            let greeting = core.module(EchoRoutes.self)?.greeting ?? ""
            return JSONReply(.object([("greeting", .string(greeting)), ("email", .string(principal.user.email))]))
        }
    }
}

/// `policy.denydomain`: refuses registrations from the domains listed in
/// `policies.denyDomain.domains`.
struct DenyDomainPolicy: PolicyModule {
    static let id = "policy.denydomain"
    let domains: [String]

    init(config: ConfigSection) throws {
        domains = try config.section("policies.denyDomain").stringList("domains", default: [])
    }

    func decide(_ input: PolicyInput, core: Core) async -> PolicyDecision {
        guard input.point == .register, let email = input.email,
            let domain = email.split(separator: "@").last.map({ $0.lowercased() }), domains.contains(domain)
        else { return .allow }
        return .deny(
            GatehouseError(.forbidden, "Registration from \(domain) is not accepted", code: ErrorCode("domain_denied"))
        )
    }
}

/// `mail.capture`: keeps every mail it is given, by recipient, with the tag of its config.
struct CaptureMailer: MailProvider {
    static let id = "mail.capture"
    static let environmentAliases = [EnvironmentAlias("CAPTURE_TAG", for: "mail.capture.tag") { $0.uppercased() }]
    static let received = Mutex<[String: [(tag: String, message: MailMessage)]]>([:])
    let tag: String

    init(config: ConfigSection) throws {
        tag = try config.section("mail.capture").string("tag", default: "untagged")
    }

    var isConfigured: Bool { true }
    var details: JSONValue { .object([("tag", .string(tag))]) }

    func send(_ message: MailMessage, from: MailAddress) async throws -> String {
        Self.received.withLock { $0[message.to, default: []].append((tag, message)) }
        return "capture-\(Identifier.make())"
    }
}

@Suite struct ModuleHostTests {
    let modules = ModuleRegistry(StandardModules.all + [EchoRoutes.self, DenyDomainPolicy.self, CaptureMailer.self])
    let yaml = """
        modules: [routes.auth, routes.eclipanel, routes.echo, policy.password, policy.denydomain]
        mail:
          provider: capture
        echo:
          greeting: ahoy
        policies:
          denyDomain:
            domains: [blocked.test]
        """

    @Test func aRouteAPolicyAndAMailProviderFromATestTargetLoadAndWork() async throws {
        try await TestServer.run(yaml: yaml, environment: ["CAPTURE_TAG": "run-one"], modules: modules) { server in

            // The policy: one domain refused, with its own code and message.
            let refused = try await server.client.post(
                "/api/users/register",
                registration(["email": "eve@blocked.test"])
            )
            #expect(refused.status == 403)
            #expect(refused.error == "Registration from blocked.test is not accepted")

            // The mail provider: the verification mail of a registration goes through it, and its
            // key came from its environment alias.
            let email = "ada-\(Identifier.make())@example.test"
            #expect(
                try await server.client.post("/api/users/register", registration(["email": .string(email)])).status
                    == 201
            )
            #expect(try await eventually { CaptureMailer.received.withLock { $0[email] != nil } })
            let mails = CaptureMailer.received.withLock { $0[email] ?? [] }
            #expect(mails.count == 1)
            #expect(mails.first?.tag == "RUN-ONE")
            #expect(mails.first?.message.subject.hasPrefix("Confirm your email address") == true)

            // The route: mounted, behind the core's authentication, reading its own section.
            let token = try await server.client.login(email, "Str0ng!pass")
            let echo = try await server.client.get("/api/echo", bearer: token)
            #expect(echo.status == 200)
            #expect(echo.json == .object([("email", .string(email)), ("greeting", "ahoy")]))
            #expect(try await server.client.get("/api/echo").status == 401)
        }
    }

    @Test func aModulesFeatureIsSwitchedByItsFlagAndAnUndeclaredOneIsOff() async throws {
        try await TestServer.run(
            yaml: yaml.replacingOccurrences(of: "policy.password,", with: "policy.flags, policy.password,")
                + "\nfeatures:\n  echo: false\n",
            modules: modules
        ) { server in
            let user = try await server.createUser("echo-\(Identifier.make())@example.test")
            let token = try await server.client.login(user.email, TestServer.password)
            #expect(try await server.client.get("/api/echo", bearer: token).status == 404)
            // A feature no registered module declares is off, whatever asks for it.
            let undeclared = PolicyInput.feature(Feature("nobodyDeclaresThis"))
            await #expect(throws: GatehouseError.self) { try await server.core.checkPolicies(undeclared) }
            // A flag no module declares is an unknown key.
            #expect(await refusedPaths("features:\n  echoo: false\n") == ["features.echoo"])
        }
    }

    @Test func theirKeysAreCheckedLikeAnyOther() async throws {
        let environment = ["GATEHOUSE_POLICIES_DENY_DOMAIN_DOMAINS": "a.test,b.test"]
        let runtime = try await ConfigLoader.load(
            ConfigSource(filePath: nil, environment: environment, registry: modules)
        )
        // No `modules:` loads every registered route and policy module; its key came from the
        // environment by the usual rule.
        #expect(runtime.module(DenyDomainPolicy.self)?.domains == ["a.test", "b.test"])
        let file = try Paths.temporaryDirectory("modules").appendingPathComponent("gatehouse.yaml")
        try (yaml + "\n    domainz: [x.test]\n").write(to: file, atomically: true, encoding: .utf8)
        do {
            _ = try await ConfigLoader.load(ConfigSource(filePath: file.path, environment: [:], registry: modules))
            Issue.record("an unknown key of a test module's section was accepted")
        } catch let refused as ConfigRefused {
            #expect(refused.issues.map(\.description) == ["policies.denyDomain.domainz: unknown key"])
        }
        // Without the test modules, the same file names modules and a provider that do not exist.
        do {
            _ = try await ConfigLoader.load(
                ConfigSource(filePath: file.path, environment: [:], registry: standardModules)
            )
            Issue.record("a config naming unregistered modules was accepted")
        } catch let refused as ConfigRefused {
            #expect(
                refused.issues.contains {
                    $0.path == "modules" && $0.message.contains("unknown module \"routes.echo\"")
                }
            )
        }
    }
}
