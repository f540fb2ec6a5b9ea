import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

@Suite struct ProfileUpdateTests {
    func put(_ server: TestServer, _ path: String, _ body: String, _ token: String) async throws -> TestClient.Reply {
        try await server.client.request("PUT", path, body: body, bearer: token)
    }

    @Test func usersUpdateTheirOwnProfileAndSettingsMergeOneLevel() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let token = try await server.client.login("ada@example.com", TestServer.password)
            let first = try await put(
                server,
                "/api/users/me",
                #"{"firstName":"Ada","displayName":"Countess","billingCountry":"gb","dateOfBirth":"1990-12-10","settings":{"theme":"dark","notifications":{"email":true}},"unknownField":1}"#,
                token
            )
            #expect(first.status == 200, "\(first)")
            #expect(first.json?["firstName"] == "Ada")
            #expect(first.json?["displayName"] == "Countess")
            #expect(first.json?["billingCountry"] == "GB")
            #expect(first.json?["age"] != .null)
            let second = try await put(
                server,
                "/api/users/me",
                #"{"displayName":null,"settings":{"theme":null,"locale":"de"}}"#,
                token
            )
            #expect(second.json?["displayName"] == .null)
            #expect(second.body.contains(#""settings":{"locale":"de","notifications":{"email":true}}"#))
            // Visible at once through GET.
            #expect(try await server.client.get("/api/users/me", bearer: token).body == second.body)
        }
    }

    @Test(arguments: [
        (#"{"emailVerified":true}"#, 403, #"{"error":"emailVerified cannot be changed"}"#),
        (#"{"id":"cxxxxxxxxxxxxxxxxxxxxxxxx"}"#, 403, #"{"error":"id cannot be changed"}"#),
        (#"{"role":"admin"}"#, 403, #"{"error":"Only admins may change role"}"#),
        (#"{"suspended":false}"#, 403, #"{"error":"Only admins may change suspended"}"#),
        (
            #"{"settings":{"sudo":true}}"#, 400,
            #"{"error":"Validation failed","details":[{"field":"settings.sudo","message":"is not a setting you may change"}]}"#
        ),
        (
            #"{"firstName":7}"#, 400,
            #"{"error":"Validation failed","details":[{"field":"firstName","message":"must be a string"}]}"#
        ),
        (
            #"{"dateOfBirth":"2023-02-30"}"#, 400,
            #"{"error":"Validation failed","details":[{"field":"dateOfBirth","message":"must be a real date in YYYY-MM-DD format"}]}"#
        ),
        (
            #"{"billingCountry":"ZZ"}"#, 400,
            #"{"error":"Validation failed","details":[{"field":"billingCountry","message":"must be an ISO 3166-1 alpha-2 country code"}]}"#
        ),
        (
            #"{"password":"N3w!password"}"#, 400,
            #"{"error":"Validation failed","details":[{"field":"currentPassword","message":"is required to change email or password"}]}"#
        ),
        (#"{"email":"new@example.com","currentPassword":"wrong"}"#, 403, #"{"error":"Current password is incorrect"}"#),
    ])
    func refusalsChangeNothing(body: String, status: Int, expected: String) async throws {
        try await TestServer.run { server in
            let created = try await server.createUser("ada@example.com")
            let token = try await server.client.login("ada@example.com", TestServer.password)
            let before = try #require(try await server.core.store.user(id: created.id))
            let reply = try await put(server, "/api/users/me", body, token)
            #expect(reply.status == status)
            #expect(reply.body == expected)
            let after = try #require(try await server.core.store.user(id: before.id))
            #expect(after == before)
        }
    }

    @Test func emailAndPasswordChangesNeedTheCurrentPassword() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            try await server.createUser("taken@example.com")
            let token = try await server.client.login("ada@example.com", TestServer.password)
            let other = try await server.client.login("ada@example.com", TestServer.password)

            let taken = try await put(
                server,
                "/api/users/me",
                #"{"email":"taken@example.com","currentPassword":"\#(TestServer.password)"}"#,
                token
            )
            #expect(taken.status == 409)
            // A new password over 1024 bytes is refused before anything is hashed, as everywhere.
            let long = String(repeating: "Aa1!", count: 275)
            let tooLong = try await put(
                server,
                "/api/users/me",
                #"{"password":"\#(long)","currentPassword":"\#(TestServer.password)"}"#,
                token
            )
            #expect(tooLong.status == 400)
            #expect(
                tooLong.body
                    == #"{"error":"Validation failed","details":[{"field":"password","message":"must be at most 1024 bytes"}]}"#
            )
            let moved = try await put(
                server,
                "/api/users/me",
                #"{"email":"Ada@New.example","currentPassword":"\#(TestServer.password)"}"#,
                token
            )
            #expect(moved.status == 200)
            #expect(moved.json?["email"] == "ada@new.example")
            #expect(moved.json?["emailVerified"] == .bool(false))
            #expect(try await server.core.store.verification(userId: ada.id) != nil)

            let changed = try await put(
                server,
                "/api/users/me",
                #"{"password":"N3w!password","currentPassword":"\#(TestServer.password)"}"#,
                token
            )
            #expect(changed.status == 200)
            // This session stays; every other ends; the notice is queued.
            #expect(try await server.client.get("/api/users/me", bearer: token).status == 200)
            #expect(try await server.client.get("/api/users/me", bearer: other).status == 401)
            #expect(try await server.outboxMails().contains { $0.subject.contains("password was changed") })
            #expect(try await server.client.login("ada@new.example", "N3w!password").isEmpty == false)
        }
    }

    @Test func adminsAndTheRoleRules() async throws {
        try await TestServer.run { server in
            let root = try await server.createUser("root@example.com", role: .rootAdmin)
            let admin = try await server.createUser("admin@example.com", role: .admin)
            let staff = try await server.createUser("staff@example.com", role: .staff)
            let ada = try await server.createUser("ada@example.com")
            let rootToken = try await server.client.login("root@example.com", TestServer.password)
            let adminToken = try await server.client.login("admin@example.com", TestServer.password)
            let staffToken = try await server.client.login("staff@example.com", TestServer.password)
            let adaToken = try await server.client.login("ada@example.com", TestServer.password)

            #expect(try await put(server, "/api/users/\(ada.id)", #"{"firstName":"X"}"#, staffToken).status == 403)
            #expect(try await put(server, "/api/users/\(staff.id)", #"{"firstName":"X"}"#, adaToken).status == 403)
            #expect(
                try await put(server, "/api/users/cnobody00000000000000000", #"{"firstName":"X"}"#, adminToken).status
                    == 404
            )

            let upgraded = try await put(
                server,
                "/api/users/\(ada.id)",
                #"{"portalType":"paid","role":"staff"}"#,
                adminToken
            )
            #expect(upgraded.json?["portalType"] == "paid" && upgraded.json?["role"] == "staff")
            #expect(upgraded.json?["limits"]?["servers"] == .number(5))
            let grant = try await put(server, "/api/users/\(ada.id)", #"{"role":"admin"}"#, adminToken)
            #expect(grant.status == 403)
            #expect(grant.error == "Only a rootAdmin may grant or revoke admin roles")
            #expect(try await put(server, "/api/users/\(ada.id)", #"{"role":"admin"}"#, rootToken).status == 200)
            #expect(try await put(server, "/api/users/\(admin.id)", #"{"role":"user"}"#, adminToken).status == 403)

            let lastRoot = try await put(server, "/api/users/\(root.id)", #"{"role":"admin"}"#, rootToken)
            #expect(lastRoot.status == 403)
            #expect(lastRoot.error == "The last rootAdmin cannot be demoted")

            // Suspending takes effect at once, and ends every session: the token is gone for good.
            #expect(
                try await put(server, "/api/users/\(ada.id)", #"{"suspended":true}"#, rootToken).json?["suspended"]
                    == .bool(true)
            )
            #expect(try await server.client.get("/api/users/me", bearer: adaToken).status == 401)
            #expect(try await put(server, "/api/users/me", #"{"suspended":true}"#, rootToken).status == 403)
        }
    }
}
