import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

@Suite struct HealthAndErrorTests {
    @Test func healthAndReadinessAnswer() async throws {
        try await TestServer.run { server in
            let health = try await server.client.get("/health")
            #expect(health.status == 200)
            #expect(health.body == #"{"status":"ok"}"#)
            #expect(health.header("Content-Type") == "application/json; charset=utf-8")
            #expect(health.header("X-Request-Id")?.isEmpty == false)
            let ready = try await server.client.get("/ready")
            #expect(ready.status == 200)
            #expect(ready.body == #"{"status":"ready"}"#)
        }
    }

    @Test func unknownRoutesAndWrongMethodsAreJSON() async throws {
        try await TestServer.run { server in
            let missing = try await server.client.get("/api/nothing/here")
            #expect(missing.status == 404)
            #expect(missing.body == #"{"error":"Not found"}"#)
            #expect(missing.header("Content-Type") == "application/json; charset=utf-8")

            let wrongMethod = try await server.client.request("DELETE", "/api/auth/login")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.body == #"{"error":"Method not allowed"}"#)
            #expect(wrongMethod.header("Allow") == "POST")

            let wrongMethodWithParameter = try await server.client.request("PATCH", "/api/users/someone")
            #expect(wrongMethodWithParameter.status == 405)
            #expect(wrongMethodWithParameter.header("Allow") == "GET, PUT")
        }
    }

    /// Every kind of bad body answers 4xx with a JSON error, never 5xx.
    @Test(arguments: [
        ("{\"email\":", 400, #"{"error":"Malformed JSON"}"#),
        ("[1,2]", 400, #"{"error":"Request body must be a JSON object"}"#),
        ("\"text\"", 400, #"{"error":"Request body must be a JSON object"}"#),
        ("", 400, #"{"error":"Request body must be a JSON object"}"#),
        ("null", 400, #"{"error":"Request body must be a JSON object"}"#),
        (
            #"{"email":5,"password":"x"}"#, 400,
            #"{"error":"Validation failed","details":[{"field":"email","message":"must be a string"}]}"#
        ),
        (
            #"{"password":"x"}"#, 400,
            #"{"error":"Validation failed","details":[{"field":"email","message":"is required"}]}"#
        ),
        (
            #"{"email":null,"password":"x"}"#, 400,
            #"{"error":"Validation failed","details":[{"field":"email","message":"must not be null"}]}"#
        ),
        (#"{"email":"a@b.co","password":"x","unknown":{"deep":[1]}}"#, 401, #"{"error":"Invalid email or password"}"#),
    ])
    func badBodiesAreClientErrors(body: String, status: Int, expected: String) async throws {
        try await TestServer.run { server in
            let reply = try await server.client.post("/api/auth/login", body)
            #expect(reply.status == status)
            #expect(reply.body == expected)
            #expect(reply.header("Content-Type") == "application/json; charset=utf-8")
        }
    }

    @Test func nonUTF8AndOversizedBodiesAreRefused() async throws {
        try await TestServer.run { server in
            let latin1 = try await server.client.request(
                "POST",
                "/api/auth/login",
                bytes: [0x7B, 0x22, 0xE9, 0x22, 0x7D]
            )
            #expect(latin1.status == 400)
            #expect(latin1.body == #"{"error":"Request body must be UTF-8"}"#)

            let big = #"{"email":""# + String(repeating: "a", count: 70_000) + #""}"#
            let declared = try await server.client.post("/api/auth/login", big)
            #expect(declared.status == 413)
            #expect(declared.body == #"{"error":"Request body too large (limit 64 KiB)"}"#)

            // Chunked: no Content-Length to check up front, so the limit applies while reading.
            let chunked = try await server.client.request(
                "POST",
                "/api/auth/login",
                body: big,
                headers: [("Transfer-Encoding", "chunked")]
            )
            #expect(chunked.status == 413)
            #expect(chunked.error == "Request body too large (limit 64 KiB)")

            // Exactly at the limit is fine (and then fails on content, not size).
            let padding = String(repeating: " ", count: 64 * 1024 - 2)
            let atLimit = try await server.client.post("/api/auth/login", "{" + padding + "}")
            #expect(atLimit.status == 400)
            #expect(atLimit.error == "Validation failed")
        }
    }
}

@Suite struct AuthenticationTests {
    @Test func loginGivesACookieAndATokenThatBothAuthenticate() async throws {
        try await TestServer.run { server in
            let user = try await server.createUser("ada@example.com")

            let login = try await server.client.post(
                "/api/auth/login",
                #"{"email":"ADA@example.com","password":"\#(TestServer.password)"}"#,
                headers: [("User-Agent", "panel-ui/1.0")]
            )
            #expect(login.status == 200)
            let token = try #require(login.json?["token"]?.stringValue)
            #expect(token.count == 43)
            #expect(login.json?["user"]?["id"]?.stringValue == user.id)
            #expect(login.json?["user"]?["passwordHash"] == nil)
            let setCookie = try #require(login.headers("Set-Cookie").first)
            #expect(setCookie.hasPrefix("gatehouse_session=\(token);"))
            #expect(setCookie.contains("HttpOnly"))
            #expect(setCookie.contains("SameSite=Lax"))
            #expect(setCookie.contains("Max-Age=604800"))
            #expect(!setCookie.contains("Secure"))

            let byBearer = try await server.client.get("/api/users/me", bearer: token)
            #expect(byBearer.status == 200)
            #expect(byBearer.json?["email"]?.stringValue == "ada@example.com")
            let byCookie = try await server.client.get(
                "/api/users/me",
                headers: [("Cookie", "gatehouse_session=\(token)")]
            )
            #expect(byCookie.status == 200)
            #expect(byCookie.body == byBearer.body)

            // The store keeps only the token's hash, with the client's address and agent.
            let sessions = try await server.core.store.sessions(userId: user.id, now: Date())
            #expect(sessions.count == 1)
            #expect(sessions[0].tokenHash == Secrets.sha256Hex(token))
            #expect(sessions[0].ip == "127.0.0.1")
            #expect(sessions[0].userAgent == "panel-ui/1.0")
        }
    }

    @Test func profileHasEveryContractFieldInOrder() async throws {
        try await TestServer.run { server in
            var user = try await server.createUser("kid@example.com")
            user.dateOfBirth = "2010-06-01"
            user.billingCountry = "CA"
            user.portalType = .paid
            try await server.core.store.updateUser(user)
            let token = try await server.client.login("kid@example.com", TestServer.password)
            let reply = try await server.client.get("/api/users/me", bearer: token)
            guard case .object(let members)? = try? JSONDecoder().decode(JSONValue.self, from: Data(reply.body.utf8))
            else {
                Issue.record("not an object: \(reply)")
                return
            }
            #expect(
                Set(members.map(\.0)) == [
                    "id", "email", "firstName", "lastName", "displayName", "role", "portalType", "emailVerified",
                    "twoFactorEnabled", "suspended", "limits", "settings", "address", "billingCity", "billingState",
                    "billingZip", "billingCountry", "dateOfBirth", "age", "isChildAccount", "avatarUrl", "createdAt",
                ]
            )
            #expect(reply.body.hasPrefix(#"{"id":"\#(user.id)","email":"kid@example.com","firstName":"Test""#))
            #expect(
                reply.body.contains(
                    #""limits":{"servers":5,"memory":8192,"disk":51200,"cpu":400,"databases":5,"backups":5}"#
                )
            )
            #expect(reply.body.contains(#""displayName":null"#))
            #expect(reply.json?["isChildAccount"] == .bool(true))
            let createdAt = try #require(reply.json?["createdAt"]?.stringValue)
            #expect(createdAt.count == 24 && createdAt.hasSuffix("Z"))
        }
    }

    @Test func missingBadAndSuspendedCredentials() async throws {
        try await TestServer.run { server in
            var user = try await server.createUser("ada@example.com")
            let token = try await server.client.login("ada@example.com", TestServer.password)

            for headers in [
                [], [("Authorization", "Bearer nope")], [("Authorization", "Basic abc")],
                [("Cookie", "gatehouse_session=bad")],
            ] {
                let reply = try await server.client.get("/api/users/me", headers: headers)
                #expect(reply.status == 401)
                #expect(reply.body == #"{"error":"Unauthorized"}"#)
            }

            // Resolved once (and so cached), then suspended: the next request is refused at once.
            #expect(try await server.client.get("/api/users/me", bearer: token).status == 200)
            user.suspended = true
            try await server.core.store.updateUser(user)
            let suspended = try await server.client.get("/api/users/me", bearer: token)
            #expect(suspended.status == 403)
            #expect(suspended.body == #"{"error":"Account suspended","suspended":true}"#)
            let login = try await server.client.post(
                "/api/auth/login",
                #"{"email":"ada@example.com","password":"\#(TestServer.password)"}"#
            )
            #expect(login.status == 403)
            #expect(login.body == #"{"error":"Account suspended","suspended":true}"#)
        }
    }

    @Test func unknownEmailAndWrongPasswordLookAlike() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let wrong = try await server.client.post(
                "/api/auth/login",
                #"{"email":"ada@example.com","password":"nope"}"#
            )
            let unknown = try await server.client.post(
                "/api/auth/login",
                #"{"email":"who@example.com","password":"nope"}"#
            )
            #expect(wrong.status == 401 && unknown.status == 401)
            #expect(wrong.body == unknown.body)
            #expect(wrong.body == #"{"error":"Invalid email or password"}"#)
            #expect(wrong.headers.map(\.0) == unknown.headers.map(\.0))

            // Both cost one argon2 verification: an unknown email is not answered faster. (Counted
            // rather than timed: timings in a loaded test run say little.)
            let hasher = server.core.passwords
            for email in ["ada@example.com", "nobody@example.com"] {
                let before = hasher.verificationsRun
                _ = try await server.client.post("/api/auth/login", #"{"email":"\#(email)","password":"nope"}"#)
                #expect(hasher.verificationsRun == before + 1, "\(email)")
            }
        }
    }

    @Test func readingOtherUsersNeedsStaff() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            try await server.createUser("bob@example.com")
            try await server.createUser("sam@example.com", role: .staff)
            let bob = try await server.client.login("bob@example.com", TestServer.password)
            let sam = try await server.client.login("sam@example.com", TestServer.password)

            let forbidden = try await server.client.get("/api/users/\(ada.id)", bearer: bob)
            #expect(forbidden.status == 403)
            #expect(forbidden.error == "Forbidden")
            let allowed = try await server.client.get("/api/users/\(ada.id)", bearer: sam)
            #expect(allowed.status == 200)
            #expect(allowed.json?["email"]?.stringValue == "ada@example.com")
            let unknown = try await server.client.get("/api/users/cnotauser000000000000000", bearer: sam)
            #expect(unknown.status == 404)
            #expect(unknown.body == #"{"error":"User not found"}"#)
        }
    }

    @Test func logoutEndsTheSessionAndClearsTheCookie() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let token = try await server.client.login("ada@example.com", TestServer.password)
            let other = try await server.client.login("ada@example.com", TestServer.password)
            let logout = try await server.client.post("/api/auth/logout", bearer: token)
            #expect(logout.status == 200)
            #expect(logout.body == #"{"success":true}"#)
            let cleared = try #require(logout.headers("Set-Cookie").first)
            #expect(cleared.hasPrefix("gatehouse_session=;"))
            #expect(cleared.contains("Max-Age=0"))
            #expect(try await server.client.get("/api/users/me", bearer: token).status == 401)
            #expect(try await server.client.get("/api/users/me", bearer: other).status == 200)
        }
    }

    @Test func aUserKeepsAtMostTheConfiguredSessions() async throws {
        try await TestServer.run(yaml: "sessions:\n  maxPerUser: 3\n") { server in
            try await server.createUser("ada@example.com")
            var tokens: [String] = []
            for _ in 0..<4 { tokens.append(try await server.client.login("ada@example.com", TestServer.password)) }
            #expect(try await server.client.get("/api/users/me", bearer: tokens[0]).status == 401)
            for token in tokens.dropFirst() {
                #expect(try await server.client.get("/api/users/me", bearer: token).status == 200)
            }
        }
    }

    @Test func secureCookiesAndTrustedProxies() async throws {
        try await TestServer.run(
            yaml: "server:\n  secureCookies: true\n  trustedProxies: [127.0.0.1]\n"
        ) { server in
            let user = try await server.createUser("ada@example.com")
            let login = try await server.client.post(
                "/api/auth/login",
                #"{"email":"ada@example.com","password":"\#(TestServer.password)"}"#,
                headers: [("X-Forwarded-For", "198.51.100.7, 127.0.0.1")]
            )
            #expect(login.status == 200)
            #expect(login.headers("Set-Cookie").first?.contains("Secure") == true)
            let sessions = try await server.core.store.sessions(userId: user.id, now: Date())
            #expect(sessions.first?.ip == "198.51.100.7")
        }
    }

    @Test func untrustedPeersCannotSpoofTheirAddress() async throws {
        try await TestServer.run { server in
            let user = try await server.createUser("ada@example.com")
            _ = try await server.client.post(
                "/api/auth/login",
                #"{"email":"ada@example.com","password":"\#(TestServer.password)"}"#,
                headers: [("X-Forwarded-For", "198.51.100.7")]
            )
            let sessions = try await server.core.store.sessions(userId: user.id, now: Date())
            #expect(sessions.first?.ip == "127.0.0.1")
        }
    }
}
