import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

/// `policy.geoblock` against the real server: country header, MaxMind database, billing country.
@Suite(.serialized) struct GeoblockTests {
    static let refusal = #"{"error":"Registration is not available in your region"}"#

    /// A .mmdb written by MaxMind's own writer (Debian's libmaxmind-db-writer-perl).
    func makeDatabase(_ networks: [String: String]) throws -> String {
        let path = try Paths.temporaryDirectory("mmdb").appendingPathComponent("test.mmdb").path
        let (status, output) = try Spawned.run(
            "/usr/bin/perl",
            [Paths.root.appendingPathComponent("Tests/Support/make_mmdb.pl").path, path]
                + networks.map { "\($0.key)=\($0.value)" }
        )
        guard status == 0 else { throw TestFailure("make_mmdb.pl failed: \(output)") }
        return path
    }

    func register(
        _ server: TestServer,
        _ n: Int,
        country: String,
        headers: [(String, String)] = []
    ) async throws -> TestClient.Reply {
        try await server.client.post(
            "/api/users/register",
            registration(["email": .string("geo\(n)@example.com"), "billingCountry": .string(country)]),
            headers: headers
        )
    }

    @Test func theBillingCountryDecidesWhenNothingElseKnows() async throws {
        try await TestServer.run(yaml: "policies:\n  geoblock:\n    countries: [KP, ir]\n") { server in
            let blocked = try await register(server, 1, country: "KP")
            #expect(blocked.status == 403)
            #expect(blocked.body == Self.refusal)
            #expect(try await register(server, 2, country: "ir").status == 403)
            #expect(try await server.core.store.user(email: "geo1@example.com") == nil)
            #expect(try await register(server, 3, country: "ZA").status == 201)
            // An invalid country is a validation error, not a pass.
            #expect(try await register(server, 4, country: "ZZ").status == 400)
        }
    }

    @Test func aCountryHeaderIsBelievedOnlyFromATrustedProxy() async throws {
        let yaml = """
            policies:
              geoblock:
                countries: [KP]
                header: CF-IPCountry
            """
        try await TestServer.run(yaml: yaml) { direct in
            // Not through a trusted proxy: the header is ignored, the billing country decides.
            #expect(try await register(direct, 1, country: "ZA", headers: [("CF-IPCountry", "KP")]).status == 201)

            try await TestServer.run(yaml: yaml + "\nserver:\n  trustedProxies: [127.0.0.1]\n") { proxied in
                let blocked = try await register(proxied, 2, country: "ZA", headers: [("CF-IPCountry", "KP")])
                #expect(blocked.status == 403)
                #expect(blocked.body == Self.refusal)
                // The header wins over the billing country...
                #expect(try await register(proxied, 3, country: "KP", headers: [("CF-IPCountry", "de")]).status == 201)
                // ...unless it does not know ("XX") or is absent.
                #expect(try await register(proxied, 4, country: "KP", headers: [("CF-IPCountry", "XX")]).status == 403)
                #expect(try await register(proxied, 5, country: "KP").status == 403)
            }
        }
    }

    @Test func theMaxMindDatabaseLooksUpTheClientAddress() async throws {
        let database = try makeDatabase([
            "203.0.113.0/24": "KP", "198.51.100.0/24": "DE", "2001:db8::/32": "KP",
        ])
        try await TestServer.run(
            yaml: """
                server:
                  trustedProxies: [127.0.0.1]
                policies:
                  geoblock:
                    countries: [KP]
                    header: CF-IPCountry
                    mmdb: \(database)
                """
        ) { server in
            func from(_ address: String) -> [(String, String)] { [("X-Forwarded-For", address)] }

            let blocked = try await register(server, 1, country: "ZA", headers: from("203.0.113.9"))
            #expect(blocked.status == 403)
            #expect(blocked.body == Self.refusal)
            #expect(try await register(server, 2, country: "ZA", headers: from("2001:db8::1")).status == 403)
            // The database wins over the billing country.
            #expect(try await register(server, 3, country: "KP", headers: from("198.51.100.20")).status == 201)
            // An address it does not know: the billing country decides.
            #expect(try await register(server, 4, country: "KP", headers: from("192.0.2.1")).status == 403)
            #expect(try await register(server, 5, country: "ZA", headers: from("192.0.2.1")).status == 201)
            // The trusted header comes first.
            #expect(
                try await register(server, 6, country: "ZA", headers: from("198.51.100.20") + [("CF-IPCountry", "KP")])
                    .status == 403
            )
        }
    }

    @Test func badSettingsAreRefusedNamingTheKey() async throws {
        #expect(
            await refusedPaths("policies:\n  geoblock:\n    countries: [KP, ZZ]\n") == ["policies.geoblock.countries"]
        )
        #expect(
            await refusedPaths("policies:\n  geoblock:\n    mmdb: /nonexistent/x.mmdb\n") == ["policies.geoblock.mmdb"]
        )
        let notADatabase = try Paths.temporaryDirectory("mmdb").appendingPathComponent("bad.mmdb")
        try "not a database".write(to: notADatabase, atomically: true, encoding: .utf8)
        #expect(
            await refusedPaths("policies:\n  geoblock:\n    mmdb: \(notADatabase.path)\n") == ["policies.geoblock.mmdb"]
        )
        #expect(
            await refusedPaths("policies:\n  geoblock:\n    header: \"bad header\"\n") == ["policies.geoblock.header"]
        )
        // Files are opened only for the policies the config loads: a switched-off policy's
        // settings are still checked, but its files are not touched.
        let off = "modules: [routes.auth]\npolicies:\n  geoblock:\n    mmdb: /nonexistent/x.mmdb\n"
        #expect(await refusedPaths(off) == [])
        #expect(await refusedPaths(off + "  password:\n    breachedList: /nonexistent/list.txt\n") == [])
        #expect(
            await refusedPaths("policies:\n  password:\n    breachedList: /nonexistent/list.txt\n")
                == ["policies.password.breachedList"]
        )
        #expect(
            await refusedPaths("modules: [routes.auth]\npolicies:\n  geoblock:\n    countries: [ZZ]\n") == [
                "policies.geoblock.countries"
            ]
        )
    }
}
