import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

@Suite struct SessionRoutesTests {
    @Test func listingShowsEverySessionAndMarksTheCurrentOne() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            let first = try await server.client.login("ada@example.com", TestServer.password)
            let second = try await server.client.post(
                "/api/auth/login",
                #"{"email":"ada@example.com","password":"\#(TestServer.password)"}"#,
                headers: [("User-Agent", "phone/2")]
            ).json?["token"]?.stringValue
            let reply = try await server.client.get("/api/sessions/\(ada.id)", bearer: first)
            #expect(reply.status == 200)
            guard case .array(let sessions)? = reply.json?["sessions"] else {
                Issue.record("\(reply)")
                return
            }
            #expect(sessions.count == 2)
            #expect(sessions.filter { $0["current"] == .bool(true) }.count == 1)
            #expect(sessions.contains { $0["userAgent"] == "phone/2" && $0["current"] == .bool(false) })
            // Members in the contract's order, as the client receives them.
            let shape = try Regex(
                #"\{"id":"[a-z0-9]{25}","createdAt":"[0-9T:.\-]{23}Z","lastSeenAt":"[0-9T:.\-]{23}Z","ip":"127\.0\.0\.1","userAgent":("[^"]*"|null),"current":(true|false)\}"#
            )
            #expect(reply.body.matches(of: shape).count == 2)
            #expect(!reply.body.contains(first) && !reply.body.contains(second ?? "-"))
            #expect(try await server.client.get("/api/sessions/me", bearer: first).body == reply.body)
        }
    }

    @Test func othersSessionsNeedAnAdmin() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            try await server.createUser("bob@example.com")
            try await server.createUser("root@example.com", role: .rootAdmin)
            _ = try await server.client.login("ada@example.com", TestServer.password)
            let bob = try await server.client.login("bob@example.com", TestServer.password)
            let root = try await server.client.login("root@example.com", TestServer.password)
            #expect(try await server.client.get("/api/sessions/\(ada.id)", bearer: bob).status == 403)
            let asAdmin = try await server.client.get("/api/sessions/\(ada.id)", bearer: root)
            #expect(asAdmin.status == 200)
            #expect(asAdmin.json?["sessions"]?.jsonString.contains("\"current\":false") == true)
            #expect(try await server.client.get("/api/sessions/cnobody00000000000000000", bearer: root).status == 404)
            #expect(try await server.client.get("/api/sessions/\(ada.id)").status == 401)
        }
    }

    @Test func logoutEndsOneAndLogoutAllEndsEvery() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            try await server.createUser("bob@example.com")
            let a1 = try await server.client.login("ada@example.com", TestServer.password)
            let a2 = try await server.client.login("ada@example.com", TestServer.password)
            let a3 = try await server.client.login("ada@example.com", TestServer.password)
            let bob = try await server.client.login("bob@example.com", TestServer.password)

            // Another of my sessions, by id: the current one stays.
            let sessions = try await server.core.store.sessions(userId: ada.id, now: Date())
            let a2id = try #require(sessions.first { $0.tokenHash == Secrets.sha256Hex(a2) }?.id)
            let one = try await server.client.post("/api/sessions/logout", #"{"sessionId":"\#(a2id)"}"#, bearer: a1)
            #expect(one.body == #"{"success":true}"#)
            #expect(one.headers("Set-Cookie").isEmpty)
            #expect(try await server.client.get("/api/users/me", bearer: a2).status == 401)
            #expect(try await server.client.get("/api/users/me", bearer: a1).status == 200)
            // Someone else's session id is not mine to end.
            let bobUser = try #require(try await server.core.store.user(email: "bob@example.com"))
            let bobSession = try #require(try await server.core.store.sessions(userId: bobUser.id, now: Date()).first)
            let notMine = try await server.client.post(
                "/api/sessions/logout",
                #"{"sessionId":"\#(bobSession.id)"}"#,
                bearer: a1
            )
            #expect(notMine.status == 404)
            #expect(try await server.client.get("/api/users/me", bearer: bob).status == 200)

            // No body: the current session, and the cookie is cleared.
            let current = try await server.client.request(
                "POST",
                "/api/sessions/logout",
                headers: [("Authorization", "Bearer \(a3)")]
            )
            #expect(current.status == 200)
            #expect(current.headers("Set-Cookie").first?.contains("Max-Age=0") == true)
            #expect(try await server.client.get("/api/users/me", bearer: a3).status == 401)

            let all = try await server.client.post("/api/sessions/logout-all", bearer: a1)
            #expect(all.body == #"{"success":true}"#)
            #expect(try await server.client.get("/api/users/me", bearer: a1).status == 401)
            #expect(try await server.core.store.sessions(userId: ada.id, now: Date()).isEmpty)
            #expect(try await server.client.get("/api/users/me", bearer: bob).status == 200)
        }
    }
}
