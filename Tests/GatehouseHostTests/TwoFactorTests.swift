import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

/// Sets up 2FA for a signed-in user through the API; returns the base32 secret, the backup
/// codes and the time step the enabling code was for.
func enableTwoFactor(_ server: TestServer, session: String, password: String = TestServer.password) async throws -> (
    secret: String, backupCodes: [String], at: Date
) {
    let setup = try await server.client.post("/api/auth/2fa/setup", bearer: session)
    #expect(setup.status == 200)
    let secret = try #require(setup.json?["secret"]?.stringValue)
    let now = Date()
    let enable = try await server.client.post(
        "/api/auth/2fa/enable",
        #"{"code":"\#(try Oathtool.totp(secret: secret, at: now))","password":"\#(password)"}"#,
        bearer: session
    )
    #expect(enable.status == 200, "\(enable)")
    let codes = try #require(enable.json?["backupCodes"]?.arrayValue).compactMap(\.stringValue)
    return (secret, codes, now)
}

@Suite(.serialized) struct TwoFactorTests {
    func login(_ server: TestServer, password: String = TestServer.password) async throws -> TestClient.Reply {
        try await server.client.post(
            "/api/auth/login",
            #"{"email":"ada@example.com","password":"\#(password)"}"#
        )
    }

    func verify(_ server: TestServer, _ tempToken: String, _ code: String) async throws -> TestClient.Reply {
        try await server.client.post(
            "/api/auth/2fa/verify-login",
            #"{"tempToken":"\#(tempToken)","code":"\#(code)"}"#
        )
    }

    @Test func setupEnableAndSignInWithACodeThatWorksOnce() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", TestServer.password)

            #expect(try await server.client.post("/api/auth/2fa/setup").status == 401)
            let setup = try await server.client.post("/api/auth/2fa/setup", bearer: session)
            #expect(setup.status == 200)
            #expect(setup.json?.objectKeys == ["otpauthUrl", "secret"])
            let secret = try #require(setup.json?["secret"]?.stringValue)
            #expect(secret.count == 32 && Base32Decoding.decode(secret)?.count == 20)
            #expect(
                setup.json?["otpauthUrl"]?.stringValue
                    == "otpauth://totp/Gatehouse:ada@example.com?secret=\(secret)&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30"
            )

            // A code that is none of the three steps around now is refused; nothing changes.
            let now = Date()
            let window = try [-30.0, 0, 30].map { try Oathtool.totp(secret: secret, at: now.addingTimeInterval($0)) }
            let wrong = (0..<1_000_000).lazy.map { String(format: "%06d", $0) }.first { !window.contains($0) }!
            let refused = try await server.client.post(
                "/api/auth/2fa/enable",
                #"{"code":"\#(wrong)","password":"\#(TestServer.password)"}"#,
                bearer: session
            )
            #expect(refused.status == 400)
            #expect(refused.body == #"{"error":"Invalid two-factor code"}"#)
            #expect(try await server.core.store.user(id: ada.id)?.twoFactorEnabled == false)

            let enable = try await server.client.post(
                "/api/auth/2fa/enable",
                #"{"code":"\#(try Oathtool.totp(secret: secret, at: now))","password":"\#(TestServer.password)"}"#,
                bearer: session
            )
            #expect(enable.status == 200)
            #expect(enable.json?.objectKeys == ["backupCodes", "success"])
            #expect(enable.json?["success"] == .bool(true))
            let codes = try #require(enable.json?["backupCodes"]?.arrayValue).compactMap(\.stringValue)
            #expect(codes.count == 10 && Set(codes).count == 10)
            #expect(codes.allSatisfy { $0.wholeMatch(of: /[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}/) != nil })
            #expect(
                try await server.client.get("/api/users/me", bearer: session).json?["twoFactorEnabled"] == .bool(true)
            )
            #expect(try await server.core.store.unusedBackupCodeCount(userId: ada.id) == 10)

            // The secret is never shown again: setup and enable now refuse.
            let again = try await server.client.post("/api/auth/2fa/setup", bearer: session)
            #expect(again.status == 400)
            #expect(again.body == #"{"error":"Two-factor authentication is already enabled"}"#)

            // The password alone no longer signs in.
            let first = try await login(server)
            #expect(first.status == 200)
            #expect(first.json?.objectKeys == ["tempToken", "twoFactorRequired"])
            #expect(first.json?["twoFactorRequired"] == .bool(true))
            #expect(first.cookie("gatehouse_session") == nil)
            let tempToken = try #require(first.json?["tempToken"]?.stringValue)
            #expect(try await server.client.get("/api/users/me", bearer: tempToken).status == 401)

            // The code that enabled 2FA was spent there.
            let replay = try await verify(server, tempToken, try Oathtool.totp(secret: secret, at: now))
            #expect(replay.status == 401)
            #expect(replay.body == #"{"error":"Invalid two-factor code"}"#)

            // The next step's code (within the ±1 window) signs in, like login does.
            let nextCode = try Oathtool.totp(secret: secret, at: now.addingTimeInterval(30))
            let signedIn = try await verify(server, tempToken, nextCode)
            #expect(signedIn.status == 200, "\(signedIn)")
            #expect(signedIn.json?.objectKeys == ["token", "user"])
            #expect(signedIn.json?["user"]?["id"]?.stringValue == ada.id)
            let token = try #require(signedIn.json?["token"]?.stringValue)
            #expect(signedIn.cookie("gatehouse_session") == token)
            #expect(try await server.client.get("/api/users/me", bearer: token).status == 200)

            // The temp token is spent, and so is that code for a new sign-in.
            #expect(
                try await verify(server, tempToken, nextCode).body
                    == #"{"error":"Invalid or expired two-factor session"}"#
            )
            let second = try #require(try await login(server).json?["tempToken"]?.stringValue)
            #expect(try await verify(server, second, nextCode).status == 401)
        }
    }

    @Test func backupCodesSignInOnceEach() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", TestServer.password)
            let (_, codes, _) = try await enableTwoFactor(server, session: session)

            let temp1 = try #require(try await login(server).json?["tempToken"]?.stringValue)
            // Typed without the dash and in lower case: the same code.
            let typed = codes[3].replacingOccurrences(of: "-", with: "").lowercased()
            #expect(try await verify(server, temp1, typed).status == 200)
            #expect(try await server.core.store.unusedBackupCodeCount(userId: ada.id) == 9)

            let temp2 = try #require(try await login(server).json?["tempToken"]?.stringValue)
            let reused = try await verify(server, temp2, codes[3])
            #expect(reused.status == 401)
            #expect(reused.body == #"{"error":"Invalid two-factor code"}"#)
            // The same temp token still takes a good code.
            #expect(try await verify(server, temp2, codes[4]).status == 200)
            #expect(try await server.core.store.unusedBackupCodeCount(userId: ada.id) == 8)
        }
    }

    @Test func wrongCodesVoidTheTempTokenAndLockTheAccount() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", TestServer.password)
            let (_, codes, _) = try await enableTwoFactor(server, session: session)

            let bogus = try await verify(server, "not-a-token", "123456")
            #expect(bogus.status == 401)
            #expect(bogus.body == #"{"error":"Invalid or expired two-factor session"}"#)

            let temp = try #require(try await login(server).json?["tempToken"]?.stringValue)
            for _ in 0..<5 {
                let reply = try await verify(server, temp, "AAAAA-AAAAA")
                #expect(reply.body == #"{"error":"Invalid two-factor code"}"#)
            }
            // Void now, even with a good code.
            #expect(
                try await verify(server, temp, codes[0]).body == #"{"error":"Invalid or expired two-factor session"}"#
            )
            // Five wrong codes are five failed sign-ins: the account is locked.
            let locked = try await login(server)
            #expect(locked.status == 429)
            #expect(Int(locked.header("Retry-After") ?? "") ?? 0 > 0)
        }
    }

    @Test func disableNeedsThePasswordAndACode() async throws {
        try await TestServer.run { server in
            let ada = try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", TestServer.password)
            let (secret, codes, at) = try await enableTwoFactor(server, session: session)

            let badPassword = try await server.client.post(
                "/api/auth/2fa/disable",
                #"{"password":"Wr0ng!pass","code":"\#(codes[0])"}"#,
                bearer: session
            )
            #expect(badPassword.status == 403)
            #expect(badPassword.body == #"{"error":"Current password is incorrect"}"#)
            let badCode = try await server.client.post(
                "/api/auth/2fa/disable",
                #"{"password":"\#(TestServer.password)","code":"000000x"}"#,
                bearer: session
            )
            #expect(badCode.status == 400)
            #expect(badCode.body == #"{"error":"Invalid two-factor code"}"#)
            #expect(try await server.core.store.user(id: ada.id)?.twoFactorEnabled == true)

            let code = try Oathtool.totp(secret: secret, at: at.addingTimeInterval(30))
            let disabled = try await server.client.post(
                "/api/auth/2fa/disable",
                #"{"password":"\#(TestServer.password)","code":"\#(code)"}"#,
                bearer: session
            )
            #expect(disabled.status == 200)
            #expect(disabled.body == #"{"success":true}"#)
            #expect(
                try await server.client.get("/api/users/me", bearer: session).json?["twoFactorEnabled"] == .bool(false)
            )
            #expect(try await server.core.store.twoFactorSecret(userId: ada.id) == nil)
            #expect(try await server.core.store.unusedBackupCodeCount(userId: ada.id) == 0)
            #expect(try await login(server).json?["token"] != nil)

            let notOn = try await server.client.post(
                "/api/auth/2fa/disable",
                #"{"password":"\#(TestServer.password)","code":"\#(code)"}"#,
                bearer: session
            )
            #expect(notOn.status == 400)
            #expect(notOn.body == #"{"error":"Two-factor authentication is not enabled"}"#)
        }
    }

    @Test func enableBeforeSetupAndBadBodiesAreClientErrors() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", TestServer.password)
            let early = try await server.client.post(
                "/api/auth/2fa/enable",
                #"{"code":"123456","password":"\#(TestServer.password)"}"#,
                bearer: session
            )
            #expect(early.status == 400)
            #expect(early.error == "Two-factor setup has not been started: call /api/auth/2fa/setup first")
            for (path, body) in [
                ("/api/auth/2fa/enable", "{}"), ("/api/auth/2fa/enable", #"{"code":123456}"#),
                ("/api/auth/2fa/enable", "{nope"), ("/api/auth/2fa/disable", #"{"code":"123456"}"#),
                ("/api/auth/2fa/verify-login", #"{"tempToken":"x"}"#),
                ("/api/auth/2fa/verify-login", #"{"tempToken":null,"code":"123456"}"#),
            ] {
                let reply = try await server.client.post(path, body, bearer: session)
                #expect(reply.status == 400, "\(path) \(body) → \(reply)")
                #expect(reply.header("Content-Type") == "application/json; charset=utf-8")
            }
        }
    }

    @Test func switchingTheFeatureOffStopsSetupButNeverWeakensAnAccount() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            try await server.createUser("bob@example.com")
            let ada = try await server.client.login("ada@example.com", TestServer.password)
            let bob = try await server.client.login("bob@example.com", TestServer.password)
            _ = try await enableTwoFactor(server, session: ada)

            try server.writeConfig("features:\n  twoFactor: false\n")
            try await server.host.reload()
            let setup = try await server.client.post("/api/auth/2fa/setup", bearer: bob)
            #expect(setup.status == 404)
            #expect(setup.body == #"{"error":"Not found"}"#)
            #expect(
                try await server.client.post("/api/auth/2fa/enable", #"{"code":"123456"}"#, bearer: bob).status == 404
            )
            // Ada still needs her code.
            #expect(try await login(server).json?["twoFactorRequired"] == .bool(true))
        }
    }
}
