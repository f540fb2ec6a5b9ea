import Foundation
import GatehouseCore
import Mailers
import Policies
import TestSupport
import Testing

@testable import GatehouseHost

/// Loads `yaml` (written to a file) with `environment` over it.
func load(_ yaml: String?, environment: [String: String] = [:]) async throws -> Runtime {
    var path: String?
    if let yaml {
        let file = try Paths.temporaryDirectory("config").appendingPathComponent("gatehouse.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        path = file.path
    }
    return try await ConfigLoader.load(
        ConfigSource(filePath: path, environment: environment, registry: standardModules)
    )
}

/// The refused keys' paths, or [] when the config loaded.
func refusedPaths(_ yaml: String?, environment: [String: String] = [:]) async -> [String] {
    do {
        _ = try await load(yaml, environment: environment)
        return []
    } catch let refused as ConfigRefused {
        return refused.issues.map(\.path)
    } catch {
        return ["unexpected: \(error)"]
    }
}

@Suite struct ConfigTests {
    @Test func theShippedConfigLoadsWithTheContractDefaults() async throws {
        let shipped = Paths.root.appendingPathComponent("etc/gatehouse.yaml").path
        let fromFile = try await ConfigLoader.load(
            ConfigSource(filePath: shipped, environment: [:], registry: standardModules)
        )
        let builtIn = try await load(nil)
        // The file documents the defaults: loading it changes nothing.
        #expect(fromFile.settings == builtIn.settings)
        let s = builtIn.settings
        #expect(s.server.host == "0.0.0.0" && s.server.port == 8080)
        #expect(s.server.secureCookies == false && s.server.trustedProxies.isEmpty)
        #expect(s.database.path == "./data/gatehouse.sqlite")
        #expect(s.sessions == SessionSettings(lifetime: 604_800, maxPerUser: 20))
        #expect(s.passwordHashing.argon2 == Argon2Parameters(memoryKiB: 19456, iterations: 2, parallelism: 1))
        #expect(s.adultAges.adultAge(country: "CA") == 19 && s.adultAges.adultAge(country: "TW") == 20)
        #expect(s.adultAges.adultAge(country: "OM") == 21 && s.adultAges.adultAge(country: "DE") == 18)
        #expect(s.plans[.free]?.servers == 1)
        #expect(fromFile.modules.map { type(of: $0).id } == standardModules.defaultModules)
        #expect(
            standardModules.defaultModules == [
                "routes.auth", "routes.eclipanel", "routes.stellarstack", "routes.servers", "routes.operations",
                "policy.flags", "policy.geoblock", "policy.password", "policy.age", "policy.ratelimit",
            ]
        )
    }

    @Test func theEnvironmentWinsOverTheFile() async throws {
        let runtime = try await load(
            "server:\n  port: 9000\n  secureCookies: false\nfeatures:\n  login: true\n",
            environment: [
                "GATEHOUSE_SERVER_PORT": "9100",
                "GATEHOUSE_SERVER_SECURE_COOKIES": "true",
                "GATEHOUSE_SERVER_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
                "GATEHOUSE_FEATURES_LOGIN": "false",
                "GATEHOUSE_MODULES": "routes.auth,policy.flags",
                "GATEHOUSE_POLICIES_AGE_ADULT_AGES_CA": "30",
                "GATEHOUSE_PLANS_FREE_SERVERS": "2",
                "UNRELATED": "ignored",
            ]
        )
        #expect(runtime.settings.server.port == 9100)
        #expect(runtime.settings.server.secureCookies)
        #expect(runtime.settings.server.trustedProxies.map(\.description) == ["10.0.0.0/8", "127.0.0.1"])
        #expect(runtime.module(FeatureFlags.self)?.login == false)
        #expect(runtime.modules.map { type(of: $0).id } == ["routes.auth", "policy.flags"])
        #expect(runtime.settings.adultAges.adultAge(country: "CA") == 30)
        #expect(runtime.settings.plans[.free]?.servers == 2)
    }

    @Test func stellarStackMailVariablesWorkAndOursWin() async throws {
        let runtime = try await load(
            nil,
            environment: [
                "EMAIL_PROVIDER": "smtp", "EMAIL_FROM": "Panel <panel@example.com>", "SMTP_HOST": "mail.example.com",
                "SMTP_PORT": "465", "SMTP_SECURE": "true", "SMTP_USER": "u", "SMTP_PASS": "p",
                "RESEND_API_KEY": "re_x", "GATEHOUSE_MAIL_SMTP_PORT": "2465",
            ]
        )
        #expect(runtime.settings.mail.provider == "smtp")
        #expect(runtime.settings.mail.from == MailAddress(name: "Panel", address: "panel@example.com"))
        let smtp = try #require(runtime.mailer as? SMTPMailer)
        #expect(smtp.host == "mail.example.com")
        #expect(smtp.port == 2465)
        #expect(smtp.security == .tls)
        #expect(smtp.user == "u")
        #expect(smtp.details.jsonString.contains("\"p\"") == false)
        let starttls = try await load(
            nil,
            environment: ["EMAIL_PROVIDER": "smtp", "SMTP_HOST": "h", "SMTP_SECURE": "false"]
        )
        #expect((starttls.mailer as? SMTPMailer)?.security == .starttls)
        #expect(await refusedPaths(nil, environment: ["SMTP_PORT": "many"]) == ["mail.smtp.port"])
    }

    @Test func environmentNamesFollowSwiftConfiguration() {
        #expect(ConfigLoader.environmentName(forKey: "server.secureCookies") == "GATEHOUSE_SERVER_SECURE_COOKIES")
        #expect(
            ConfigLoader.environmentName(forKey: "policies.rateLimit.login.maxFailures")
                == "GATEHOUSE_POLICIES_RATE_LIMIT_LOGIN_MAX_FAILURES"
        )
        #expect(
            ConfigLoader.environmentName(forKey: "policies.age.adultAges.CA") == "GATEHOUSE_POLICIES_AGE_ADULT_AGES_CA"
        )
    }

    @Test(arguments: [
        ("server:\n  prot: 80\n", "server.prot"),
        ("featurs:\n  login: false\n", "featurs.login"),
        ("server:\n  port: 70000\n", "server.port"),
        ("server:\n  port: eighty\n", "server.port"),
        ("server:\n  port: [80]\n", "server.port"),
        ("server:\n  secureCookies: maybe\n", "server.secureCookies"),
        ("server:\n  trustedProxies: 10.0.0.1\n", "server.trustedProxies"),
        ("server:\n  trustedProxies: [10.0.0.300]\n", "server.trustedProxies"),
        ("modules: [routes.auth, routes.nope]\n", "modules"),
        ("modules: [routes.auth, routes.auth]\n", "modules"),
        ("sessions:\n  maxPerUser: 0\n", "sessions.maxPerUser"),
        ("passwordHashing:\n  memory: 1024\n", "passwordHashing.memory"),
        ("plans:\n  free:\n    servers: -1\n", "plans.free.servers"),
        ("log:\n  level: loud\n", "log.level"),
        ("features:\n  login: sometimes\n", "features.login"),
        ("- just\n- a list\n", "(file)"),
        ("mail:\n  provider: pigeon\n", "mail.provider"),
        ("mail:\n  from: not an address\n", "mail.from"),
        ("mail:\n  testFailureStatus: 501\n", "mail.testFailureStatus"),
        ("mail:\n  resend:\n    baseURL: ftp://example.com\n", "mail.resend.baseURL"),
        ("mail:\n  smtp:\n    security: ssl\n", "mail.smtp.security"),
        ("mail:\n  smtp:\n    caFile: /nonexistent/ca.pem\n", "mail.smtp.caFile"),
        ("modules: [routes.auth, mail.smtp]\n", "modules"),
        ("database:\n  url: mysql://u@h/d\n  keyFile: /tmp/k\n", "database.url"),
        ("database:\n  url: postgres://u@h\n  keyFile: /tmp/k\n", "database.url"),
        ("database:\n  url: postgres://u@h/d?sslmode=require\n  keyFile: /tmp/k\n", "database.url"),
        ("database:\n  url: postgres://u@db.example/d\n", "database.keyFile"),
        ("database:\n  url: postgres://u@db.example/d\n  keyFile: /tmp/k\n  tls: maybe\n", "database.tls"),
        ("database:\n  caFile: /nonexistent/ca.pem\n", "database.caFile"),
    ])
    func badConfigsAreRefusedNamingTheKey(yaml: String, path: String) async {
        #expect(await refusedPaths(yaml) == [path])
    }

    @Test func badEnvironmentValuesAndUnknownVariablesAreRefused() async {
        #expect(await refusedPaths(nil, environment: ["GATEHOUSE_SERVER_PORT": "abc"]) == ["server.port"])
        #expect(await refusedPaths(nil, environment: ["GATEHOUSE_SERVER_PROT": "80"]) == ["GATEHOUSE_SERVER_PROT"])
        // Variables the CLI reads are not config keys, and not refused.
        #expect(await refusedPaths(nil, environment: ["GATEHOUSE_PASSWORD": "x", "GATEHOUSE_CONFIG": "y"]) == [])
    }

    @Test func brokenYAMLAndMissingFilesAreRefused() async throws {
        #expect(await refusedPaths("server: [\n").count == 1)
        do {
            _ = try await ConfigLoader.load(
                ConfigSource(filePath: "/nonexistent/gatehouse.yaml", environment: [:], registry: standardModules)
            )
            Issue.record("a missing file loaded")
        } catch let refused as ConfigRefused {
            #expect(refused.description.contains("/nonexistent/gatehouse.yaml"))
        }
    }

    @Test func anEmptyOrCommentOnlyFileMeansDefaults() async throws {
        #expect(try await load("").settings == load(nil).settings)
        #expect(try await load("# nothing here\n").settings == load(nil).settings)
    }
}

@Suite struct ReloadTests {
    @Test func aValidConfigIsSwappedInWholeAndABadOneKeepsTheOld() async throws {
        try await TestServer.run(yaml: "features:\n  login: true\n") { server in
            try await server.createUser("ada@example.com")
            let body = #"{"email":"ada@example.com","password":"\#(TestServer.password)"}"#
            #expect(try await server.client.post("/api/auth/login", body).status == 200)

            try server.writeConfig("features:\n  login: false\nsessions:\n  maxPerUser: 5\n")
            try await server.host.reload()
            let refused = try await server.client.post("/api/auth/login", body)
            #expect(refused.status == 503)
            #expect(refused.body == #"{"error":"Login is currently disabled"}"#)
            #expect(server.core.settings.sessions.maxPerUser == 5)

            // Broken YAML: refused, and login stays off under the config in force.
            try server.writeConfig("features:\n  login: [\n")
            await #expect(throws: ConfigRefused.self) { try await server.host.reload() }
            #expect(try await server.client.post("/api/auth/login", body).status == 503)

            // A valid value that needs a restart: refused too, nothing of it applied.
            try server.writeConfig("features:\n  login: true\npasswordHashing:\n  iterations: 3\n")
            await #expect(throws: ConfigRefused.self) { try await server.host.reload() }
            #expect(try await server.client.post("/api/auth/login", body).status == 503)

            try server.writeConfig("features:\n  login: true\n")
            try await server.host.reload()
            #expect(try await server.client.post("/api/auth/login", body).status == 200)
        }
    }
}
