import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

/// Better Auth's `admin/impersonate-user` and `admin/stop-impersonating`, as its admin client
/// calls them from a browser: the admin's session cookie, the panel's Origin.
@Suite(.serialized) struct ImpersonationTests {
    static let on = "features:\n  impersonation: true\n"
    static let panel = ("Origin", "http://localhost:3000")

    /// Signs in through Better Auth; the session token.
    func signIn(_ server: TestServer, _ email: String) async throws -> String {
        let reply = try await server.client.post(
            "/api/auth/sign-in/email",
            #"{"email":"\#(email)","password":"\#(TestServer.password)"}"#
        )
        return try #require(reply.json?["token"]?.stringValue, "\(reply)")
    }

    func impersonate(_ server: TestServer, _ userId: String, as token: String) async throws -> TestClient.Reply {
        try await server.client.post(
            "/api/auth/admin/impersonate-user",
            #"{"userId":"\#(userId)"}"#,
            headers: [("Cookie", "better-auth.session_token=\(token)"), Self.panel]
        )
    }

    func auditKinds(_ server: TestServer, _ userId: String) async throws -> [AuditEvent] {
        try await server.core.store.auditEvents(userId: userId, limit: 50)
    }

    @Test func isOffUnlessSwitchedOn() async throws {
        try await TestServer.run { server in
            try await server.createUser("admin@example.com", role: .admin)
            let user = try await server.createUser("user@example.com")
            let admin = try await signIn(server, "admin@example.com")
            let reply = try await impersonate(server, user.id, as: admin)
            #expect(reply.status == 404)
            #expect(reply.json?["code"] == "NOT_FOUND")
            #expect(try await server.core.sessions.list(userId: user.id).isEmpty)
        }
    }

    @Test func anAdminActsAsAUserForAnHourAndComesBack() async throws {
        try await TestServer.run(yaml: Self.on) { server in
            let admin = try await server.createUser("admin@example.com", role: .admin)
            let user = try await server.createUser("user@example.com")
            let adminToken = try await signIn(server, "admin@example.com")

            let started = Date()
            let reply = try await impersonate(server, user.id, as: adminToken)
            let answered = Date()
            #expect(reply.status == 200, "\(reply)")
            let token = try #require(reply.header("set-auth-token"))
            #expect(reply.cookie("better-auth.session_token") == token)
            #expect(reply.cookie("better-auth.admin_session") == adminToken)
            #expect(reply.json?["user"]?["id"]?.stringValue == user.id)
            #expect(reply.json?["session"]?["token"]?.stringValue == token)
            #expect(reply.json?["session"]?["userId"]?.stringValue == user.id)
            #expect(reply.json?["session"]?["impersonatedBy"]?.stringValue == admin.id)
            let ends = try #require(
                reply.json?["session"]?["expiresAt"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) }
            )
            // An hour from when the request was served (to the millisecond it is stored in).
            #expect(
                ends >= started.addingTimeInterval(3600 - 0.001) && ends <= answered.addingTimeInterval(3600 + 0.001)
            )
            // The session cookie lasts as long as the browser (Better Auth's dontRememberMe).
            let setCookie = try #require(
                reply.headers("Set-Cookie").first { $0.hasPrefix("better-auth.session_token=") }
            )
            #expect(!setCookie.contains("Max-Age"))

            // The new session is the user's; the user sees it, marked, in their list.
            let me = try await server.client.get("/api/users/me", bearer: token)
            #expect(me.json?["id"]?.stringValue == user.id)
            let sessions = try await server.core.sessions.list(userId: user.id)
            #expect(sessions.count == 1 && sessions.first?.impersonatedBy == admin.id)
            let started1 = try await auditKinds(server, user.id).first { $0.kind == .impersonationStarted }
            #expect(started1?.actorId == admin.id)

            // A rotation (a password change, 2FA confirmed) keeps it an impersonation, ending on time.
            let rotated = try await server.core.sessions.replace(
                try #require(sessions.first?.id),
                of: user,
                ip: nil,
                userAgent: nil
            )
            #expect(rotated.session.impersonatedBy == admin.id)
            #expect(rotated.session.expiresAt == sessions.first?.expiresAt)

            // Back: the admin's own session again, the user's impersonated one ended.
            let cookies = "better-auth.session_token=\(rotated.token); better-auth.admin_session=\(adminToken)"
            let back = try await server.client.post(
                "/api/auth/admin/stop-impersonating",
                "{}",
                headers: [("Cookie", cookies), Self.panel]
            )
            #expect(back.status == 200, "\(back)")
            #expect(back.header("set-auth-token") == adminToken)
            #expect(back.json?["user"]?["id"]?.stringValue == admin.id)
            #expect(back.json?["session"]?["userId"]?.stringValue == admin.id)
            #expect(back.headers("Set-Cookie").contains { $0.hasPrefix("better-auth.admin_session=;") })
            #expect(try await server.client.get("/api/users/me", bearer: rotated.token).status == 401)
            #expect(try await server.client.get("/api/users/me", bearer: adminToken).status == 200)
            let stopped = try await auditKinds(server, user.id).first { $0.kind == .impersonationStopped }
            #expect(stopped?.actorId == admin.id)

            // Not impersonating, or without the admin's session: refused, nothing ended.
            let plain = try await server.client.post("/api/auth/admin/stop-impersonating", "{}", bearer: adminToken)
            #expect(plain.status == 400)
            #expect(plain.json?["message"] == "You are not impersonating anyone")
            let again = try await impersonate(server, user.id, as: adminToken)
            let second = try #require(again.header("set-auth-token"))
            let lost = try await server.client.post("/api/auth/admin/stop-impersonating", "{}", bearer: second)
            #expect(lost.status == 400)
            #expect(lost.json?["message"] == "Failed to find admin session")
            let forged = try await server.client.post(
                "/api/auth/admin/stop-impersonating",
                "{}",
                headers: [
                    ("Cookie", "better-auth.session_token=\(second); better-auth.admin_session=\(second)"), Self.panel,
                ]
            )
            #expect(forged.status == 400)
            #expect(try await server.client.get("/api/users/me", bearer: second).status == 200)
        }
    }

    /// Never an account at or above the impersonator, never by key, never from an impersonation.
    @Test func onlyAccountsBelowTheAdmin() async throws {
        try await TestServer.run(yaml: Self.on) { server in
            let root = try await server.createUser("root@example.com", role: .rootAdmin)
            let otherRoot = try await server.createUser("root2@example.com", role: .rootAdmin)
            let admin = try await server.createUser("admin@example.com", role: .admin)
            let otherAdmin = try await server.createUser("admin2@example.com", role: .admin)
            let staff = try await server.createUser("staff@example.com", role: .staff)
            let user = try await server.createUser("user@example.com")
            let adminToken = try await signIn(server, "admin@example.com")
            let rootToken = try await signIn(server, "root@example.com")
            let userToken = try await signIn(server, "user@example.com")

            for target in [otherAdmin, root, admin] {
                let reply = try await impersonate(server, target.id, as: adminToken)
                #expect(reply.status == 403)
                #expect(
                    reply.body == #"{"code":"YOU_CANNOT_IMPERSONATE_ADMINS","message":"You cannot impersonate admins"}"#
                )
            }
            let byUser = try await impersonate(server, staff.id, as: userToken)
            #expect(byUser.status == 403)
            #expect(byUser.json?["code"] == "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS")
            let missing = try await impersonate(server, "no-such-user", as: adminToken)
            #expect(missing.status == 404)
            #expect(missing.json?["code"] == "USER_NOT_FOUND")

            let key = try #require(
                try await server.client.post("/api/apikeys", #"{"name":"k"}"#, bearer: adminToken).json?["key"]?
                    .stringValue
            )
            let byKey = try await server.client.post(
                "/api/auth/admin/impersonate-user",
                #"{"userId":"\#(user.id)"}"#,
                bearer: key
            )
            #expect(byKey.status == 403)

            #expect(try await impersonate(server, staff.id, as: adminToken).status == 200)
            #expect(try await impersonate(server, otherRoot.id, as: rootToken).status == 403)
            let asAdmin = try await impersonate(server, admin.id, as: rootToken)
            #expect(asAdmin.status == 200)
            // Acting as an admin does not let the rootAdmin chain into another impersonation.
            let chained = try await impersonate(server, user.id, as: try #require(asAdmin.header("set-auth-token")))
            #expect(chained.status == 403)
            #expect(try await server.core.sessions.list(userId: user.id).allSatisfy { $0.impersonatedBy == nil })
        }
    }

    /// An admin who is banned, demoted, deleted or signed out stops acting as anyone at once,
    /// and so does one whose user is promoted out of their reach.
    @Test func theAdminsImpersonationsEndWithTheirStanding() async throws {
        try await TestServer.run(yaml: Self.on) { server in
            try await server.createUser("root@example.com", role: .rootAdmin)
            let rootToken = try await signIn(server, "root@example.com")
            let user = try await server.createUser("user@example.com")
            for (index, ending) in ["ban", "demote", "delete", "sign-out", "promote"].enumerated() {
                let admin = try await server.createUser("admin\(index)@example.com", role: .admin)
                let adminToken = try await signIn(server, "admin\(index)@example.com")
                let reply = try await impersonate(server, user.id, as: adminToken)
                let token = try #require(reply.header("set-auth-token"), "\(reply)")
                #expect(try await server.client.get("/api/users/me", bearer: token).status == 200)
                let done: TestClient.Reply
                switch ending {
                case "ban":
                    done = try await server.client.post(
                        "/api/auth/admin/ban-user",
                        #"{"userId":"\#(admin.id)"}"#,
                        bearer: rootToken
                    )
                case "demote":
                    done = try await server.client.post(
                        "/api/auth/admin/set-role",
                        #"{"userId":"\#(admin.id)","role":"user"}"#,
                        bearer: rootToken
                    )
                case "sign-out":
                    done = try await server.client.post("/api/auth/sign-out", "{}", bearer: adminToken)
                case "promote":
                    done = try await server.client.post(
                        "/api/auth/admin/set-role",
                        #"{"userId":"\#(user.id)","role":"admin"}"#,
                        bearer: rootToken
                    )
                default:
                    done = try await server.client.post(
                        "/api/auth/admin/remove-user",
                        #"{"userId":"\#(admin.id)"}"#,
                        bearer: rootToken
                    )
                }
                #expect(done.status == 200, "\(ending): \(done)")
                #expect(try await server.client.get("/api/users/me", bearer: token).status == 401, "\(ending)")
            }
        }
    }

    /// What would outlast the impersonation, or is the owner's alone, is refused during it.
    @Test func anImpersonationMakesNothingThatOutlastsIt() async throws {
        try await TestServer.run(yaml: Self.on) { server in
            try await server.createUser("admin@example.com", role: .admin)
            let user = try await server.createUser("user@example.com")
            let adminToken = try await signIn(server, "admin@example.com")
            let token = try #require(try await impersonate(server, user.id, as: adminToken).header("set-auth-token"))
            let key = try await server.client.post("/api/apikeys", #"{"name":"k"}"#, bearer: token)
            #expect(key.status == 403, "\(key)")
            let ssh = try await server.client.post(
                "/api/ssh-keys",
                #"{"name":"k","publicKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}"#,
                bearer: token
            )
            #expect(ssh.status == 403, "\(ssh)")
            let passkey = try await server.client.get("/api/auth/passkey/generate-register-options", bearer: token)
            #expect(passkey.status == 403)
            let deletion = try await server.client.post("/api/auth/delete-user", "{}", bearer: token)
            #expect(deletion.status == 403, "\(deletion)")
            #expect(try await server.core.accounts.user(id: user.id) != nil)
            #expect(try await server.core.store.apiKeys(userId: user.id).isEmpty)
            // The user's own session may.
            let own = try await server.client.post(
                "/api/auth/sign-in/email",
                #"{"email":"user@example.com","password":"\#(TestServer.password)"}"#
            )
            let ownToken = try #require(own.json?["token"]?.stringValue)
            #expect(try await server.client.post("/api/apikeys", #"{"name":"k"}"#, bearer: ownToken).status == 201)
        }
    }
}
