import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

@Suite struct RateLimitTests {
    /// Sign-ins beyond the hashing queue are refused at once with 503 and Retry-After, unchecked:
    /// a shed wrong password is no failure toward the lockout, and the account signs in after.
    @Test func signInsBeyondTheHashingQueueAreShed() async throws {
        let yaml = "passwordHashing:\n  memory: 65536\n  iterations: 3\n  threads: 1\n  queueLimit: 1\n"
        try await TestServer.run(yaml: yaml) { server in
            try await server.createUser("ada@example.com")
            let wrong = #"{"email":"ada@example.com","password":"wrong"}"#
            let replies = try await withThrowingTaskGroup(of: TestClient.Reply.self) { group in
                for _ in 0..<12 { group.addTask { try await server.client.post("/api/auth/login", wrong) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let shed = replies.filter { $0.status == 503 }
            #expect(Set(replies.map(\.status)).isSubset(of: [401, 429, 503]))
            // One running and one waiting at most when twelve arrive together.
            #expect(shed.count >= 1)
            #expect(replies.filter { $0.status == 401 }.count >= 1)
            for reply in shed {
                #expect(reply.body == #"{"error":"Server busy, try again shortly"}"#)
                #expect(reply.header("Retry-After") == "2")
            }
            #expect(server.core.passwords.shed == shed.count)
            // Only the checked ones counted: fewer than five, so the right password still works.
            if replies.filter({ $0.status == 401 }).count < 5 {
                #expect(try await server.client.login("ada@example.com", TestServer.password).isEmpty == false)
            }
        }
    }

    @Test func fiveFailuresLockSignInEvenForTheRightPassword() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let wrong = #"{"email":"ada@example.com","password":"wrong"}"#
            for _ in 0..<5 {
                let reply = try await server.client.post("/api/auth/login", wrong)
                #expect(reply.status == 401)
            }
            let locked = try await server.client.post(
                "/api/auth/login",
                #"{"email":"ADA@example.com","password":"\#(TestServer.password)"}"#
            )
            #expect(locked.status == 429)
            #expect(locked.error == "Too many failed sign-in attempts, try again later")
            let retryAfter = try #require(locked.header("Retry-After").flatMap { Int($0) })
            #expect((1...900).contains(retryAfter))
            #expect(locked.header("X-RateLimit-Limit") == "5")
            #expect(locked.header("X-RateLimit-Remaining") == "0")
            // Another account is not locked.
            try await server.createUser("bob@example.com")
            #expect(try await server.client.login("bob@example.com", TestServer.password).isEmpty == false)
        }
    }

    @Test func aSuccessfulSignInClearsTheFailures() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let wrong = #"{"email":"ada@example.com","password":"wrong"}"#
            for _ in 0..<4 { _ = try await server.client.post("/api/auth/login", wrong) }
            _ = try await server.client.login("ada@example.com", TestServer.password)
            for _ in 0..<4 { _ = try await server.client.post("/api/auth/login", wrong) }
            #expect(try await server.client.login("ada@example.com", TestServer.password).isEmpty == false)
        }
    }

    @Test func registrationsPerAddressAreLimited() async throws {
        try await TestServer.run(environment: ["GATEHOUSE_POLICIES_RATE_LIMIT_REGISTER_LIMIT": "2"]) { server in
            for i in 0..<2 {
                let reply = try await server.client.post(
                    "/api/users/register",
                    registration(["email": .string("r\(i)@example.com")])
                )
                #expect(reply.status == 201)
            }
            let third = try await server.client.post("/api/users/register", registration(["email": "r9@example.com"]))
            #expect(third.status == 429)
            #expect(third.body == #"{"error":"Too many registrations from this address, try again later"}"#)
            #expect(Int(third.header("Retry-After") ?? "") ?? 0 > 3500)
            #expect(try await server.core.store.user(email: "r9@example.com") == nil)
        }
    }

    /// Two servers on one PostgreSQL database share the general limit's count, unless it is
    /// counted per process (`general.perProcess`).
    @Test(arguments: [false, true]) func twoServersOnPostgreSQLShareTheGeneralLimit(perProcess: Bool) async throws {
        let database = try await TestPostgres.freshDatabase()
        let keyFile = try Paths.temporaryDirectory("pg-key").appendingPathComponent("server.key").path
        let environment = [
            "GATEHOUSE_DATABASE_URL": TestPostgres.text(database), "GATEHOUSE_DATABASE_TLS": "disable",
            "GATEHOUSE_DATABASE_KEY_FILE": keyFile, "GATEHOUSE_POLICIES_RATE_LIMIT_GENERAL_LIMIT": "3",
            "GATEHOUSE_POLICIES_RATE_LIMIT_GENERAL_PER_PROCESS": String(perProcess),
        ]
        try await TestServer.run(environment: environment) { a in
            try await TestServer.run(environment: environment) { b in
                // Anonymous requests from 127.0.0.1: one budget of 3, or one on each server.
                var statuses: [Int] = []
                for server in [a, b, a, b, a, b] {
                    statuses.append(try await server.client.get("/api/users/me").status)
                }
                #expect(statuses == (perProcess ? [401, 401, 401, 401, 401, 401] : [401, 401, 401, 429, 429, 429]))
                #expect(try await a.client.get("/api/users/me").status == 429)
            }
        }
    }

    @Test func theGeneralLimitCountsPerCallerAndSaysSo() async throws {
        try await TestServer.run(environment: ["GATEHOUSE_POLICIES_RATE_LIMIT_GENERAL_LIMIT": "3"]) { server in
            try await server.createUser("ada@example.com")
            // Login is one anonymous request from 127.0.0.1.
            let token = try await server.client.login("ada@example.com", TestServer.password)
            var remaining: [String] = []
            for _ in 0..<3 {
                let reply = try await server.client.get("/api/users/me", bearer: token)
                #expect(reply.status == 200)
                #expect(reply.header("X-RateLimit-Limit") == "3")
                remaining.append(reply.header("X-RateLimit-Remaining") ?? "?")
            }
            #expect(remaining == ["2", "1", "0"])
            let limited = try await server.client.get("/api/users/me", bearer: token)
            #expect(limited.status == 429)
            #expect(limited.body == #"{"error":"Too many requests, slow down"}"#)
            #expect(limited.header("Retry-After") != nil)
            // Anonymous callers have their own budget (one used by the login); errors carry the headers too.
            let anonymous = try await server.client.get("/api/users/me")
            #expect(anonymous.status == 401)
            #expect(anonymous.header("X-RateLimit-Remaining") == "1")
            // Health checks are not counted.
            for _ in 0..<5 { #expect(try await server.client.get("/health").status == 200) }
        }
    }
}
