import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

@Suite(.serialized) struct APIKeyTests {
    func create(_ server: TestServer, _ token: String, _ body: String) async throws -> TestClient.Reply {
        try await server.client.post("/api/apikeys", body, bearer: token)
    }

    @Test func aKeyIsShownOnceAndAuthenticatesThroughBothHeaders() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", TestServer.password)

            let created = try await create(server, session, #"{"name":"  deploy bot  "}"#)
            #expect(created.status == 201)
            #expect(created.json?.objectKeys == ["createdAt", "expiresAt", "id", "key", "name", "prefix"])
            #expect(created.body.hasPrefix(#"{"id":""#))
            let key = try #require(created.json?["key"]?.stringValue)
            #expect(key.wholeMatch(of: /gk_[A-Za-z0-9_-]{43}/) != nil)
            #expect(created.json?["prefix"]?.stringValue == String(key.prefix(10)))
            #expect(created.json?["name"]?.stringValue == "deploy bot")
            #expect(created.json?["expiresAt"] == .null)

            // Never listed again.
            let list = try await server.client.get("/api/apikeys/my", bearer: session)
            #expect(list.status == 200)
            #expect(!list.body.contains(key))
            let listed = try #require(list.json?.arrayValue?.first)
            #expect(listed.objectKeys == ["createdAt", "expiresAt", "id", "lastUsedAt", "name", "prefix"])
            #expect(listed["lastUsedAt"] == .null)

            // Bearer and X-API-Key both authenticate as Ada.
            let viaBearer = try await server.client.get("/api/users/me", bearer: key)
            #expect(viaBearer.status == 200)
            #expect(viaBearer.json?["id"]?.stringValue == ada.id)
            let viaHeader = try await server.client.get("/api/users/me", headers: [("X-API-Key", key)])
            #expect(viaHeader.json?["id"]?.stringValue == ada.id)

            // lastUsedAt is set by the first use; later uses within a minute do not write again.
            let used = try #require(try await server.core.store.apiKeys(userId: ada.id).first?.lastUsedAt)
            _ = try await server.client.get("/api/users/me", bearer: key)
            #expect(try await server.core.store.apiKeys(userId: ada.id).first?.lastUsedAt == used)
            let relisted = try await server.client.get("/api/apikeys/my", bearer: key)
            #expect(relisted.json?.arrayValue?.first?["lastUsedAt"]?.stringValue == Timestamp.string(used))

            // Deleted: the key stops working at once.
            let id = try #require(created.json?["id"]?.stringValue)
            #expect(
                try await server.client.request("DELETE", "/api/apikeys/\(id)", bearer: session).body
                    == #"{"success":true}"#
            )
            #expect(try await server.client.get("/api/users/me", bearer: key).status == 401)
            #expect(try await server.client.get("/api/users/me", headers: [("X-API-Key", key)]).status == 401)
            #expect(try await server.client.request("DELETE", "/api/apikeys/\(id)", bearer: session).status == 404)
        }
    }

    @Test func aKeyCannotManageCredentialsOrSessions() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", TestServer.password)
            let key = try #require(try await create(server, session, #"{"name":"ci"}"#).json?["key"]?.stringValue)
            let requiresSession = #"{"error":"This action requires a session"}"#
            for (method, path, body) in [
                ("POST", "/api/apikeys", #"{"name":"another"}"#),
                ("PUT", "/api/users/me", #"{"password":"N3w!passw0rd","currentPassword":"\#(TestServer.password)"}"#),
                ("PUT", "/api/users/me", #"{"email":"new@example.com","currentPassword":"\#(TestServer.password)"}"#),
                ("POST", "/api/auth/2fa/setup", ""), ("POST", "/api/auth/2fa/enable", #"{"code":"123456"}"#),
                ("POST", "/api/auth/2fa/disable", #"{"password":"x","code":"123456"}"#),
                ("POST", "/api/sessions/logout", ""), ("POST", "/api/sessions/logout-all", ""),
                ("POST", "/api/auth/logout", ""),
            ] {
                let reply = try await server.client.request(method, path, body: body, headers: [("X-API-Key", key)])
                #expect(reply.status == 403, "\(method) \(path) → \(reply)")
                #expect(reply.body == requiresSession, "\(method) \(path)")
            }
            // What a key may do: read and change the profile, list its keys.
            #expect(try await server.client.put("/api/users/me", #"{"firstName":"Ada"}"#, bearer: key).status == 200)
            #expect(try await server.client.get("/api/apikeys/my", bearer: key).status == 200)
            #expect(try await server.client.get("/api/users/me", bearer: session).status == 200)
        }
    }

    @Test func expiredSuspendedAndOtherUsersKeys() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            try await server.createUser("bob@example.com")
            let root = try await server.createUser("root@example.com", role: .rootAdmin)
            let adaSession = try await server.client.login("ada@example.com", TestServer.password)
            let bobSession = try await server.client.login("bob@example.com", TestServer.password)
            let rootSession = try await server.client.login("root@example.com", TestServer.password)

            // An expiry must be a future ISO 8601 time.
            let future = Timestamp.string(Date().addingTimeInterval(3600))
            let dated = try await create(server, adaSession, #"{"name":"dated","expiresAt":"\#(future)"}"#)
            #expect(dated.status == 201)
            #expect(dated.json?["expiresAt"]?.stringValue == future)
            for (body, field) in [
                (#"{"name":"x","expiresAt":"2001-01-01T00:00:00Z"}"#, "expiresAt"),
                (#"{"name":"x","expiresAt":"tomorrow"}"#, "expiresAt"), (#"{"name":""}"#, "name"),
                (#"{"name":"\#(String(repeating: "n", count: 101))"}"#, "name"),
            ] {
                let reply = try await create(server, adaSession, body)
                #expect(reply.status == 400)
                #expect(reply.json?["details"]?.arrayValue?.first?["field"]?.stringValue == field, "\(body)")
            }
            #expect(try await create(server, adaSession, #"{"name":5}"#).status == 400)
            #expect(try await create(server, adaSession, "{}").status == 400)

            // A key past its expiry no longer authenticates (written straight to the store, as the
            // API refuses past expiries).
            let secret = APIKey.marker + Secrets.sessionToken()
            _ = try await server.core.store.insertAPIKey(
                APIKey(
                    userId: ada.id,
                    name: "old",
                    prefix: String(secret.prefix(10)),
                    keyHash: Secrets.sha256Hex(secret),
                    createdAt: Date().addingTimeInterval(-7200),
                    expiresAt: Date().addingTimeInterval(-60)
                ),
                maxPerUser: 25,
                audit: AuditEvent(.apiKeyCreated, userId: ada.id),
                mails: []
            )
            #expect(try await server.client.get("/api/users/me", bearer: secret).status == 401)

            // Another user's key id: 404 to delete; an admin may list them, never see a key.
            let key = try #require(dated.json?["key"]?.stringValue)
            let id = try #require(dated.json?["id"]?.stringValue)
            #expect(try await server.client.request("DELETE", "/api/apikeys/\(id)", bearer: bobSession).status == 404)
            #expect(try await server.client.get("/api/apikeys/user/\(ada.id)", bearer: bobSession).status == 403)
            let adminView = try await server.client.get("/api/apikeys/user/\(ada.id)", bearer: rootSession)
            #expect(adminView.status == 200)
            #expect(adminView.json?.arrayValue?.count == 2)
            #expect(!adminView.body.contains(key))
            #expect(try await server.client.get("/api/apikeys/user/cnope", bearer: rootSession).status == 404)

            // Suspending the owner stops the key at once.
            #expect(
                try await server.client.put("/api/users/\(ada.id)", #"{"suspended":true}"#, bearer: rootSession).status
                    == 200
            )
            let suspended = try await server.client.get("/api/users/me", bearer: key)
            #expect(suspended.status == 403)
            #expect(suspended.body == #"{"error":"Account suspended","suspended":true}"#)
            _ = root
        }
    }

    @Test func theLimitPerUserAndTheFeatureFlag() async throws {
        try await TestServer.run(yaml: "apiKeys:\n  maxPerUser: 2\n") { server in
            try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", TestServer.password)
            let key = try #require(try await create(server, session, #"{"name":"a"}"#).json?["key"]?.stringValue)
            #expect(try await create(server, session, #"{"name":"b"}"#).status == 201)
            let third = try await create(server, session, #"{"name":"c"}"#)
            #expect(third.status == 400)
            #expect(third.body == #"{"error":"API key limit reached: at most 2 keys per user"}"#)

            try server.writeConfig("apiKeys:\n  maxPerUser: 2\nfeatures:\n  apiKeys: false\n")
            try await server.host.reload()
            #expect(try await server.client.get("/api/apikeys/my", bearer: session).status == 404)
            #expect(try await create(server, session, #"{"name":"d"}"#).status == 404)
            // Switched off, keys stop authenticating too.
            #expect(try await server.client.get("/api/users/me", bearer: key).status == 401)
            try server.writeConfig("apiKeys:\n  maxPerUser: 2\n")
            try await server.host.reload()
            #expect(try await server.client.get("/api/users/me", bearer: key).status == 200)
        }
    }

    @Test func fiftyConcurrentCreationsRespectTheLimit() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", TestServer.password)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<50 { group.addTask { try await create(server, session, #"{"name":"k\#(i)"}"#).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 25)
            #expect(statuses.filter { $0 == 400 }.count == 25)
            #expect(try await server.core.store.apiKeys(userId: ada.id).count == 25)
        }
    }
}
