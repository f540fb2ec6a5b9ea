import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

/// Security events land in `audit_events` with the change they record.
@Suite(.serialized) struct AuditTests {
    /// The kinds recorded for a user, oldest first.
    func kinds(_ server: TestServer, _ userId: String?) async throws -> [AuditEvent.Kind] {
        try await server.core.store.auditEvents(userId: userId, limit: 100).reversed().map(\.kind)
    }

    @Test func signInsSessionsAndPasswordsAreRecorded() async throws {
        try await TestServer.run { server in
            let registered = try await server.client.post(
                "/api/users/register",
                registration(["email": "nia@example.com"])
            )
            let userId = try #require(registered.json?["userId"]?.stringValue)
            let created = try await server.core.store.auditEvents(userId: userId, limit: 1)[0]
            #expect(created.kind == .userRegistered)
            #expect(created.ip == "127.0.0.1")
            #expect(created.actorId == nil)

            let wrong = try await server.client.post(
                "/api/auth/login",
                #"{"email":"nia@example.com","password":"Nope!123x"}"#
            )
            #expect(wrong.status == 401)
            let token = try await server.client.login("nia@example.com", "Str0ng!pass")
            let other = try await server.client.login("nia@example.com", "Str0ng!pass")
            #expect(
                try await server.client.put(
                    "/api/users/me",
                    #"{"password":"N3w!passw0rd","currentPassword":"Str0ng!pass"}"#,
                    bearer: token
                ).status == 200
            )
            #expect(try await server.client.post("/api/auth/logout", bearer: token).status == 200)
            _ = other
            #expect(
                try await kinds(server, userId) == [
                    .userRegistered, .loginFailed, .loginSucceeded, .loginSucceeded, .passwordChanged, .sessionRevoked,
                ]
            )
            let events = try await server.core.store.auditEvents(userId: userId, limit: 100)
            let failed = try #require(events.first { $0.kind == .loginFailed })
            #expect(failed.detail["reason"] == "password")
            #expect(failed.ip == "127.0.0.1")
            let succeeded = try #require(events.first { $0.kind == .loginSucceeded })
            #expect(succeeded.detail["method"] == "password")

            // An unknown email is recorded without a user.
            _ = try await server.client.post("/api/auth/login", #"{"email":"ghost@example.com","password":"x"}"#)
            let ghost = try #require(try await server.core.store.auditEvents(userId: nil, limit: 1).first)
            #expect(ghost.kind == .loginFailed && ghost.userId == nil && ghost.detail["email"] == "ghost@example.com")
        }
    }

    @Test func lockoutTwoFactorAndLogoutAllAreRecorded() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", TestServer.password)
            let (secret, _, at) = try await enableTwoFactor(server, session: session)
            let code = try Oathtool.totp(secret: secret, at: at.addingTimeInterval(30))
            #expect(
                try await server.client.post(
                    "/api/auth/2fa/disable",
                    #"{"password":"\#(TestServer.password)","code":"\#(code)"}"#,
                    bearer: session
                ).status == 200
            )
            #expect(try await server.client.post("/api/sessions/logout-all", bearer: session).status == 200)
            for _ in 0..<5 {
                _ = try await server.client.post(
                    "/api/auth/login",
                    #"{"email":"ada@example.com","password":"Wr0ng!pw"}"#
                )
            }
            let recorded = try await kinds(server, ada.id)
            #expect(
                recorded == [
                    .userCreated, .loginSucceeded, .twoFactorEnabled, .twoFactorDisabled, .sessionsRevoked,
                    .loginFailed, .loginFailed, .loginFailed, .loginFailed, .loginFailed, .loginLocked,
                ]
            )
            let events = try await server.core.store.auditEvents(userId: ada.id, limit: 100)
            #expect(events.first { $0.kind == .twoFactorDisabled }?.detail["method"] == "totp")
            #expect(events.first { $0.kind == .sessionsRevoked }?.detail["count"] == 1)
            #expect(events.first { $0.kind == .loginLocked }?.detail["seconds"] == 900)
        }
    }

    @Test func roleAndSuspensionChangesRecordWhoMadeThem() async throws {
        try await TestServer.run { server in
            let root = try await server.createUser("root@example.com", role: .rootAdmin)
            let bob = try await server.createUser("bob@example.com")
            let token = try await server.client.login("root@example.com", TestServer.password)
            #expect(
                try await server.client.put("/api/users/\(bob.id)", #"{"role":"admin"}"#, bearer: token).status == 200
            )
            #expect(
                try await server.client.put("/api/users/\(bob.id)", #"{"suspended":true}"#, bearer: token).status == 200
            )
            // A refused change records nothing.
            #expect(
                try await server.client.put("/api/users/\(root.id)", #"{"role":"user"}"#, bearer: token).status == 403
            )

            let events = try await server.core.store.auditEvents(userId: bob.id, limit: 10)
            #expect(events.map(\.kind) == [.suspensionChanged, .roleChanged, .userCreated])
            #expect(events[1].actorId == root.id)
            #expect(events[1].detail == ["from": "user", "to": "admin"])
            #expect(events[0].actorId == root.id && events[0].detail == ["suspended": true])
            #expect(try await kinds(server, root.id) == [.userCreated, .loginSucceeded])
        }
    }

    @Test func aPasswordResetIsRecorded() async throws {
        // Nothing listens on port 1, so the reset mail stays queued with its link.
        try await TestServer.run(yaml: smtpYAML(port: 1)) { server in
            let ada = try await server.createUser("ada@example.com")
            try await server.core.passwordResets.requestPasswordReset(email: "ada@example.com")
            // The token only travels by mail; take it from the queued message.
            let mail = try #require(try await server.outboxMails().first)
            let token = String(
                try #require(mail.text.components(separatedBy: "token=").last?.prefix { !$0.isWhitespace })
            )
            let reset = try await server.client.post(
                "/api/auth/password/reset",
                #"{"token":"\#(token)","password":"N3w!passw0rd"}"#
            )
            #expect(reset.status == 200)
            #expect(try await kinds(server, ada.id) == [.userCreated, .passwordResetRequested, .passwordReset])
        }
    }
}
