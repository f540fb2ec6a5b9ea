import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

@Suite(.serialized) struct StellarStackAccountTests {
    func patch(_ server: TestServer, _ path: String, _ body: String, _ token: String) async throws -> TestClient.Reply {
        try await server.client.request("PATCH", path, body: body, bearer: token)
    }

    func delete(_ server: TestServer, _ path: String, _ token: String) async throws -> TestClient.Reply {
        try await server.client.request("DELETE", path, bearer: token)
    }

    @Test func meShowsTheStellarStackViewAndChangesShowOnBothSurfaces() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            let token = try await server.client.login("ada@example.com", TestServer.password)

            let me = try await server.client.get("/api/account/me", bearer: token)
            #expect(me.status == 200)
            #expect(
                me.body
                    == #"{"id":"\#(ada.id)","name":"Test User","email":"ada@example.com","emailVerified":true,"image":null,"role":"user","createdAt":"\#(Timestamp.string(ada.createdAt))","_count":{"servers":0}}"#
            )

            let patched = try await patch(
                server,
                "/api/account/me",
                #"{"name":"Jane Doe","image":"https://example.com/a.png","role":"admin","email":"x@example.com"}"#,
                token
            )
            #expect(patched.status == 200)
            #expect(
                patched.body
                    == #"{"id":"\#(ada.id)","name":"Jane Doe","email":"ada@example.com","image":"https://example.com/a.png","role":"user"}"#
            )
            let eclipanel = try await server.client.get("/api/users/me", bearer: token)
            #expect(eclipanel.json?["displayName"] == "Jane Doe")
            #expect(eclipanel.json?["avatarUrl"] == "https://example.com/a.png")
            #expect(eclipanel.json?["role"] == "user")

            // And back: an EcliPanel change shows on the StellarStack view.
            #expect(try await server.client.put("/api/users/me", #"{"displayName":null}"#, bearer: token).status == 200)
            #expect(try await server.client.get("/api/account/me", bearer: token).json?["name"] == "Test User")

            for (body, field) in [
                (#"{"name":""}"#, "name"), (#"{"name":"\#(String(repeating: "x", count: 101))"}"#, "name"),
                (#"{"image":"javascript:alert(1)"}"#, "image"), (#"{"image":"ftp://example.com/a.png"}"#, "image"),
                (#"{"image":"not a url"}"#, "image"), (#"{"name":7}"#, "name"), (#"{"image":5}"#, "image"),
            ] {
                let reply = try await patch(server, "/api/account/me", body, token)
                #expect(reply.status == 400, "\(body) → \(reply)")
                #expect(reply.error == "Validation failed")
                #expect(reply.json?["details"]?.arrayValue?.first?["field"]?.stringValue == field, "\(body)")
            }
            #expect(try await patch(server, "/api/account/me", #"{"image":null}"#, token).json?["image"] == .null)
            #expect(try await server.client.get("/api/account/me").status == 401)
            #expect(try await patch(server, "/api/account/me", "{}", "nope").body == #"{"error":"Unauthorized"}"#)
        }
    }

    @Test func adminRoutesRefuseOthersWithTheExactMessage() async throws {
        try await TestServer.run { server in
            let bob = try await server.createUser("bob@example.com")
            try await server.createUser("sam@example.com", role: .staff)
            let user = try await server.client.login("bob@example.com", TestServer.password)
            let staff = try await server.client.login("sam@example.com", TestServer.password)
            let routes: [(String, String, String?)] = [
                ("GET", "/api/account/users", nil),
                ("POST", "/api/account/users", #"{"name":"N","email":"n@example.com","password":"Str0ng!pass"}"#),
                ("GET", "/api/account/users/\(bob.id)", nil), ("PATCH", "/api/account/users/\(bob.id)", "{}"),
                ("DELETE", "/api/account/users/\(bob.id)", nil),
            ]
            for (method, path) in [
                ("GET", "/api/account/me"), ("PATCH", "/api/account/me"), ("DELETE", "/api/account/me"),
            ] {
                let anonymous = try await server.client.request(method, path, body: method == "PATCH" ? "{}" : nil)
                #expect(anonymous.status == 401 && anonymous.body == #"{"error":"Unauthorized"}"#, "\(method) \(path)")
            }
            for (method, path, body) in routes {
                let anonymous = try await server.client.request(method, path, body: body)
                #expect(anonymous.status == 401 && anonymous.body == #"{"error":"Unauthorized"}"#, "\(method) \(path)")
                for token in [user, staff] {
                    let reply = try await server.client.request(method, path, body: body, bearer: token)
                    #expect(reply.status == 403, "\(method) \(path)")
                    #expect(reply.body == #"{"error":"Forbidden: Admin access required"}"#)
                }
            }
        }
    }

    @Test func adminsListCreateReadUpdateAndDelete() async throws {
        try await TestServer.run { server in
            let root = try await server.createUser("root@example.com", role: .rootAdmin)
            try await server.createUser("admin@example.com", role: .admin)
            let rootToken = try await server.client.login("root@example.com", TestServer.password)
            let adminToken = try await server.client.login("admin@example.com", TestServer.password)

            let created = try await server.client.post(
                "/api/account/users",
                #"{"name":"New User","email":"NewUser@Example.com","password":"Str0ng!pass"}"#,
                bearer: adminToken
            )
            #expect(created.status == 201)
            #expect(created.json?.objectKeys == ["createdAt", "email", "emailVerified", "id", "name", "role"])
            #expect(created.body.hasPrefix(#"{"id":""#))
            #expect(created.json?["email"] == "newuser@example.com")
            #expect(created.json?["emailVerified"] == true)
            #expect(created.json?["role"] == "user")
            #expect(!created.body.contains("Str0ng!pass") && !created.body.contains("password"))
            let newId = try #require(created.json?["id"]?.stringValue)
            // The new account signs in on the EcliPanel surface too.
            #expect(try await server.client.login("newuser@example.com", "Str0ng!pass").isEmpty == false)

            let duplicate = try await server.client.post(
                "/api/account/users",
                #"{"name":"Again","email":"newuser@example.com","password":"Str0ng!pass"}"#,
                bearer: adminToken
            )
            #expect(duplicate.status == 400)
            #expect(duplicate.body == #"{"error":"A user with this email already exists"}"#)
            for body in [
                #"{"name":"","email":"a@example.com","password":"Str0ng!pass"}"#,
                #"{"name":"A","email":"not-an-email","password":"Str0ng!pass"}"#,
                #"{"name":"A","email":"a@example.com","password":"short"}"#,
                #"{"name":"A","email":"a@example.com","password":"Str0ng!pass","role":"superuser"}"#,
                #"{"name":"A","email":"a@example.com"}"#,
                #"{"name":5,"email":"a@example.com","password":"Str0ng!pass"}"#,
            ] {
                let reply = try await server.client.post("/api/account/users", body, bearer: adminToken)
                #expect(reply.status == 400, "\(body) → \(reply)")
            }
            // Only a rootAdmin makes admins.
            let adminByAdmin = try await server.client.post(
                "/api/account/users",
                #"{"name":"Boss","email":"boss@example.com","password":"Str0ng!pass","role":"admin"}"#,
                bearer: adminToken
            )
            #expect(adminByAdmin.status == 403)

            // List: newest first, paged, with the total.
            let list = try await server.client.get("/api/account/users?limit=2", bearer: adminToken)
            #expect(list.status == 200)
            #expect(list.header("X-Total-Count") == "3")
            let ids = try #require(list.json?.arrayValue).compactMap { $0["id"]?.stringValue }
            #expect(ids.first == newId && ids.count == 2)
            let page2 = try await server.client.get("/api/account/users?limit=2&offset=2", bearer: adminToken)
            #expect(page2.json?.arrayValue?.first?["id"]?.stringValue == root.id)
            #expect(page2.json?.arrayValue?.first?["role"] == "admin")
            // The same page by cursor: after the last user of the first page.
            let byCursor = try await server.client.get(
                "/api/account/users?limit=2&before=\(ids[1])",
                bearer: adminToken
            )
            #expect(byCursor.json == page2.json)
            #expect(byCursor.header("X-Total-Count") == "3")
            let gone = try await server.client.get("/api/account/users?before=no-such-user", bearer: adminToken)
            #expect(gone.status == 400)
            #expect(gone.body.contains(#"{"field":"before""#))
            for query in ["limit=0", "limit=201", "limit=abc", "offset=-1"] {
                #expect(try await server.client.get("/api/account/users?\(query)", bearer: adminToken).status == 400)
            }

            // Read one, with servers.
            let owned = try await server.client.post(
                "/api/admin/servers",
                #"{"name":"Survival","ownerId":"\#(newId)","status":"running","nodeDisplayName":"Node EU-1"}"#,
                bearer: adminToken
            )
            #expect(owned.status == 201)
            let serverId = try #require(owned.json?["id"]?.stringValue)
            let one = try await server.client.get("/api/account/users/\(newId)", bearer: adminToken)
            #expect(one.json?["_count"]?["servers"] == 1)
            #expect(
                one.json?["servers"]
                    == .array([
                        .object([
                            ("id", .string(serverId)), ("name", "Survival"),
                            ("node", .object([("displayName", "Node EU-1")])),
                            ("status", "running"),
                        ])
                    ])
            )
            #expect(
                try await server.client.get("/api/account/users/cnobody", bearer: adminToken).body
                    == #"{"error":"User not found"}"#
            )

            // Update: role needs a rootAdmin; a view role the user already has changes nothing.
            #expect(
                try await patch(server, "/api/account/users/\(newId)", #"{"role":"admin"}"#, adminToken).status == 403
            )
            let promoted = try await patch(
                server,
                "/api/account/users/\(newId)",
                #"{"role":"admin","name":"Newly Admin"}"#,
                rootToken
            )
            #expect(promoted.status == 200)
            #expect(promoted.json?["role"] == "admin" && promoted.json?["name"] == "Newly Admin")
            #expect(try await server.core.store.user(id: newId)?.role == .admin)
            #expect(
                try await patch(server, "/api/account/users/\(root.id)", #"{"role":"admin"}"#, rootToken).status == 200
            )
            #expect(try await server.core.store.user(id: root.id)?.role == .rootAdmin)
            #expect(
                try await patch(server, "/api/account/users/\(newId)", #"{"role":"owner"}"#, rootToken).status == 400
            )
            // A rootAdmin (the new user is an admin now) changes someone's email here without a
            // password of their own (the EcliPanel surface asks for it); the new address is
            // unverified until its mailed code is used.
            let moved = try await patch(
                server,
                "/api/account/users/\(newId)",
                #"{"email":"moved@example.com"}"#,
                rootToken
            )
            #expect(moved.status == 200)
            #expect(moved.json?["email"] == "moved@example.com" && moved.json?["emailVerified"] == false)
            let viaEcliPanel = try await server.client.put(
                "/api/users/\(newId)",
                #"{"email":"again@example.com"}"#,
                bearer: rootToken
            )
            #expect(viaEcliPanel.status == 400)
            #expect(viaEcliPanel.json?["details"]?.arrayValue?.first?["field"] == "currentPassword")

            // Delete: blocked while a server is owned, allowed after the transfer; never oneself.
            let blocked = try await delete(server, "/api/account/users/\(newId)", rootToken)
            #expect(blocked.status == 400)
            #expect(blocked.body == #"{"error":"Cannot delete user with active servers"}"#)
            let transferred = try await server.client.post(
                "/api/admin/servers/\(serverId)/transfer",
                #"{"ownerId":"\#(root.id)"}"#,
                bearer: rootToken
            )
            #expect(transferred.json?["ownerId"]?.stringValue == root.id)
            #expect(try await delete(server, "/api/account/users/\(newId)", rootToken).body == #"{"success":true}"#)
            #expect(try await server.core.store.user(id: newId) == nil)
            #expect(try await delete(server, "/api/account/users/\(newId)", rootToken).status == 404)
            let own = try await delete(server, "/api/account/users/\(root.id)", rootToken)
            #expect(own.body == #"{"error":"Cannot delete your own account via admin endpoint"}"#)
            let events = try await server.core.store.auditEvents(userId: newId, limit: 1)
            #expect(events.first?.kind == .userDeleted && events.first?.actorId == root.id)
        }
    }

    @Test func deletingOneselfTakesEverythingAlongAndKeepsTheLastRootAdmin() async throws {
        try await TestServer.run { server in
            let root = try await server.createUser("root@example.com", role: .rootAdmin)
            let ada = try await server.createUser("ada@example.com")
            let rootToken = try await server.client.login("root@example.com", TestServer.password)
            let token = try await server.client.login("ada@example.com", TestServer.password)
            let key = try #require(
                try await server.client.post("/api/apikeys", #"{"name":"k"}"#, bearer: token).json?["key"]?.stringValue
            )
            let sshLine = try SSHKeygen.generate(type: "ed25519").publicKey
            let ssh = try await server.client.post(
                "/api/ssh-keys",
                JSONValue.object([("publicKey", .string(sshLine))]).jsonString,
                bearer: token
            )
            #expect(ssh.status == 201)
            _ = try await enableTwoFactor(server, session: token)
            let owned = try await server.client.post(
                "/api/admin/servers",
                #"{"name":"Box","ownerId":"\#(ada.id)"}"#,
                bearer: rootToken
            )
            let serverId = try #require(owned.json?["id"]?.stringValue)
            #expect(try await server.client.get("/api/servers", bearer: token).json?.arrayValue?.count == 1)

            // An API key cannot delete the account; servers block it.
            #expect(try await delete(server, "/api/account/me", key).status == 403)
            let blocked = try await delete(server, "/api/account/me", token)
            #expect(blocked.status == 400)
            #expect(blocked.body == #"{"error":"Cannot delete account with active servers"}"#)
            #expect(try await delete(server, "/api/admin/servers/\(serverId)", rootToken).body == #"{"success":true}"#)

            let deleted = try await delete(server, "/api/account/me", token)
            #expect(deleted.body == #"{"success":true}"#)
            #expect(deleted.header("Set-Cookie")?.contains("Max-Age=0") == true)
            #expect(try await server.client.get("/api/users/me", bearer: token).status == 401)
            #expect(try await server.client.get("/api/users/me", bearer: key).status == 401)
            let store = server.core.store
            #expect(try await store.sessions(userId: ada.id, now: Date()).isEmpty)
            #expect(try await store.apiKeys(userId: ada.id).isEmpty)
            #expect(try await store.sshKeys(userId: ada.id).isEmpty)
            #expect(try await store.twoFactorSecret(userId: ada.id) == nil)
            #expect(try await store.unusedBackupCodeCount(userId: ada.id) == 0)

            // The last rootAdmin stays.
            let last = try await delete(server, "/api/account/me", rootToken)
            #expect(last.status == 400)
            #expect(last.body == #"{"error":"Cannot delete the last rootAdmin"}"#)
            #expect(try await store.user(id: root.id) != nil)
        }
    }

    @Test func serversBelongToTheirOwnersAndOnlyAdminsManageThem() async throws {
        try await TestServer.run { server in
            let admin = try await server.createUser("admin@example.com", role: .admin)
            let bob = try await server.createUser("bob@example.com")
            let adminToken = try await server.client.login("admin@example.com", TestServer.password)
            let bobToken = try await server.client.login("bob@example.com", TestServer.password)

            let create = #"{"name":"Lobby","ownerId":"\#(bob.id)"}"#
            #expect(try await server.client.post("/api/admin/servers", create, bearer: bobToken).status == 403)
            let made = try await server.client.post("/api/admin/servers", create, bearer: adminToken)
            #expect(made.status == 201)
            #expect(made.json?.objectKeys == ["createdAt", "id", "name", "node", "ownerId", "status"])
            #expect(made.json?["status"] == "offline" && made.json?["node"]?["displayName"] == .null)
            let id = try #require(made.json?["id"]?.stringValue)
            #expect(try await server.client.get("/api/servers", bearer: bobToken).json?.arrayValue?.count == 1)
            #expect(try await server.client.get("/api/servers", bearer: adminToken).body == "[]")
            #expect(try await server.client.get("/api/account/me", bearer: bobToken).json?["_count"]?["servers"] == 1)

            for body in [
                #"{"name":"x","ownerId":"cnobody"}"#, #"{"name":"","ownerId":"\#(bob.id)"}"#,
                #"{"name":"x","ownerId":"\#(bob.id)","status":"on fire!"}"#, #"{"ownerId":"\#(bob.id)"}"#,
            ] {
                #expect(
                    try await server.client.post("/api/admin/servers", body, bearer: adminToken).status == 400,
                    "\(body)"
                )
            }
            let moved = try await server.client.post(
                "/api/admin/servers/\(id)/transfer",
                #"{"ownerId":"\#(admin.id)"}"#,
                bearer: adminToken
            )
            #expect(moved.status == 200)
            #expect(try await server.client.get("/api/servers", bearer: bobToken).body == "[]")
            #expect(
                try await server.client.post(
                    "/api/admin/servers/cnothere/transfer",
                    #"{"ownerId":"\#(admin.id)"}"#,
                    bearer: adminToken
                ).status == 404
            )
            #expect(
                try await server.client.request("DELETE", "/api/admin/servers/\(id)", bearer: bobToken).status == 403
            )
            #expect(
                try await server.client.request("DELETE", "/api/admin/servers/\(id)", bearer: adminToken).status == 200
            )
            #expect(
                try await server.client.request("DELETE", "/api/admin/servers/\(id)", bearer: adminToken).body
                    == #"{"error":"Server not found"}"#
            )
        }
    }
}
