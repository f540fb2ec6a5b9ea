import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

/// The Better Auth-compatible routes, driven with the bodies Better Auth's client sends:
/// `authClient.signUp.email({name, email, password})` posts `{"name","email","password"}` to
/// /api/auth/sign-up/email; `authClient.signIn.email({email, password, rememberMe})` posts
/// `{"email","password","rememberMe"}` to /api/auth/sign-in/email; `getSession()` is
/// GET /api/auth/get-session; `signOut()` posts `{}` to /api/auth/sign-out.
@Suite(.serialized) struct BetterAuthTests {
    /// A session alone (no password) cannot turn 2FA on: a secret from routes.auth's setup
    /// (which asks for no password) is not confirmed by Better Auth's verify-totp.
    @Test func aStolenSessionCannotBindItsAuthenticator() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let token = try await server.client.login("ada@example.com", TestServer.password)
            let setup = try await server.client.post("/api/auth/2fa/setup", "{}", bearer: token)
            let secret = try #require(setup.json?["secret"]?.stringValue)
            let code = try Oathtool.totp(secret: secret, at: Date())
            let confirm = try await server.client.post(
                "/api/auth/two-factor/verify-totp",
                #"{"code":"\#(code)"}"#,
                bearer: token
            )
            #expect(confirm.status == 400)
            #expect(confirm.body == #"{"code":"TOTP_NOT_ENABLED","message":"TOTP not enabled"}"#)
            #expect(try await server.core.accounts.user(email: "ada@example.com")?.twoFactorEnabled == false)
        }
    }

    /// Shapes the client library's flow (BetterAuthClientTests) does not look at closely.
    @Test func accountRoutesAnswerInBetterAuthsShapes() async throws {
        try await TestServer.run { server in
            let signUp = try await server.client.post(
                "/api/auth/sign-up/email",
                #"{"name":"Jane Doe","email":"jane@example.com","password":"Str0ng!pass"}"#
            )
            let token = try #require(signUp.json?["token"]?.stringValue)
            #expect(signUp.header("set-auth-token") == token)

            // Codes by mail are off unless switched on (the mailbox would pass for a second factor).
            let otp = try await server.client.post("/api/auth/two-factor/send-otp", "{}")
            #expect(otp.status == 400)
            #expect(otp.body == #"{"code":"OTP_NOT_CONFIGURED","message":"otp isn't configured"}"#)

            let unknown = try await server.client.get("/api/auth/no-such-route")
            #expect(unknown.status == 404)
            #expect(unknown.body == #"{"code":"NOT_FOUND","message":"Not Found"}"#)
            let foreign = try await server.client.post(
                "/api/auth/sign-out",
                "{}",
                headers: [("Cookie", "better-auth.session_token=\(token)"), ("Origin", "https://evil.example")]
            )
            #expect(foreign.status == 403)
            #expect(foreign.body == #"{"code":"INVALID_ORIGIN","message":"Invalid origin"}"#)

            let sessions = try await server.client.get("/api/auth/list-sessions", bearer: token)
            guard case .array(let entries)? = sessions.json, let entry = entries.first else {
                Issue.record("list-sessions: \(sessions)")
                return
            }
            #expect(entries.count == 1)
            #expect(
                entry.objectKeys == [
                    "createdAt", "expiresAt", "id", "impersonatedBy", "ipAddress", "token", "updatedAt", "userAgent",
                    "userId",
                ]
            )
            #expect(entry["token"] == entry["id"])

            let noFields = try await server.client.post("/api/auth/update-user", "{}", bearer: token)
            #expect(noFields.status == 400)
            #expect(noFields.body == #"{"message":"No fields to update"}"#)

            let badLink = try await server.client.get("/api/auth/verify-email?token=bogus&callbackURL=/welcome")
            #expect(badLink.status == 302)
            #expect(badLink.header("Location") == "http://localhost:3000/welcome?error=INVALID_TOKEN")
            let badToken = try await server.client.get("/api/auth/verify-email?token=bogus")
            #expect(badToken.status == 401)
            #expect(badToken.body == #"{"code":"INVALID_TOKEN","message":"Invalid token"}"#)
            let offSite = try await server.client.get(
                "/api/auth/verify-email?token=bogus&callbackURL=https://evil.example/"
            )
            #expect(offSite.status == 403)
            #expect(offSite.json?["code"] == "INVALID_CALLBACK_URL")
            let noCallback = try await server.client.get("/api/auth/reset-password/abc")
            #expect(noCallback.status == 400)
            #expect(noCallback.json?["code"] == "VALIDATION_ERROR")
            let badReset = try await server.client.get("/api/auth/reset-password/abc?callbackURL=/reset")
            #expect(badReset.status == 302)
            #expect(badReset.header("Location") == "http://localhost:3000/reset?error=INVALID_TOKEN")

            // routes.auth's POST of the same name keeps its own shape.
            let ours = try await server.client.post("/api/auth/verify-email", #"{"token":"bogus"}"#)
            #expect(ours.json?["error"] != nil && ours.json?["code"] == nil)
        }
    }

    @Test func signUpSignInGetSessionAndSignOut() async throws {
        try await TestServer.run { server in

            let signUp = try await server.client.post(
                "/api/auth/sign-up/email",
                #"{"name":"Jane Doe","email":"Jane@Example.com","password":"Str0ng!pass"}"#
            )
            #expect(signUp.status == 200, "\(signUp)")
            #expect(signUp.json?.objectKeys == ["token", "user"])
            let user = try #require(signUp.json?["user"])
            #expect(
                user.objectKeys == [
                    "createdAt", "email", "emailVerified", "id", "image", "name", "twoFactorEnabled", "updatedAt",
                ]
            )
            #expect(user["email"] == "jane@example.com" && user["name"] == "Jane Doe" && user["emailVerified"] == false)
            let signUpToken = try #require(signUp.json?["token"]?.stringValue)
            #expect(signUp.cookie("better-auth.session_token") == signUpToken)
            #expect(signUp.cookie("gatehouse_session") == signUpToken)
            // The same account on the other surfaces.
            let id = try #require(user["id"]?.stringValue)
            let profile = try await server.client.get("/api/users/me", bearer: signUpToken)
            #expect(profile.json?["id"]?.stringValue == id && profile.json?["firstName"] == "Jane")
            #expect(try await server.client.get("/api/account/me", bearer: signUpToken).json?["name"] == "Jane Doe")

            let taken = try await server.client.post(
                "/api/auth/sign-up/email",
                #"{"name":"Jane","email":"jane@example.com","password":"Str0ng!pass"}"#
            )
            #expect(taken.status == 422)
            #expect(
                taken.body
                    == #"{"code":"USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL","message":"User already exists. Use another email."}"#
            )
            let short = try await server.client.post(
                "/api/auth/sign-up/email",
                #"{"name":"Kim","email":"kim@example.com","password":"Sh0rt!"}"#
            )
            #expect(short.status == 400)
            #expect(short.body == #"{"code":"PASSWORD_TOO_SHORT","message":"Password too short"}"#)
            let badEmail = try await server.client.post(
                "/api/auth/sign-up/email",
                #"{"name":"Kim","email":"kim","password":"Str0ng!pass"}"#
            )
            #expect(badEmail.body == #"{"code":"INVALID_EMAIL","message":"Invalid email"}"#)

            // Sign in: Better Auth's answer, our session.
            let signIn = try await server.client.post(
                "/api/auth/sign-in/email",
                #"{"email":"jane@example.com","password":"Str0ng!pass","rememberMe":true}"#
            )
            #expect(signIn.status == 200)
            #expect(signIn.json?.objectKeys == ["redirect", "token", "user"])
            #expect(signIn.json?["redirect"] == false)
            let token = try #require(signIn.json?["token"]?.stringValue)
            #expect(
                signIn.headers("Set-Cookie").contains {
                    $0.hasPrefix("better-auth.session_token=") && $0.contains("Max-Age=604800")
                }
            )

            // get-session by Better Auth's cookie, by Bearer, and without credentials.
            let session = try await server.client.get(
                "/api/auth/get-session",
                headers: [("Cookie", "better-auth.session_token=\(token).c2lnbmF0dXJl")]
            )
            #expect(session.status == 200)
            #expect(session.json?.objectKeys == ["session", "user"])
            #expect(session.json?["session"]?["userId"]?.stringValue == id)
            #expect(session.json?["user"]?["email"] == "jane@example.com")
            #expect(!session.body.contains(token))
            // A stale cookie of one name does not hide a good one of the other.
            let both = try await server.client.get(
                "/api/auth/get-session",
                headers: [
                    ("Cookie", "better-auth.session_token=stale.c2ln; __Secure-better-auth.session_token=\(token).c2ln")
                ]
            )
            #expect(both.json?["user"]?["email"] == "jane@example.com")
            #expect(
                try await server.client.get("/api/auth/get-session", bearer: token).json?["user"]?["id"]?.stringValue
                    == id
            )
            let anonymous = try await server.client.get("/api/auth/get-session")
            #expect(anonymous.status == 200 && anonymous.body == "null")

            let wrong = try await server.client.post(
                "/api/auth/sign-in/email",
                #"{"email":"jane@example.com","password":"Wr0ng!pass"}"#
            )
            #expect(wrong.status == 401)
            #expect(wrong.body == #"{"code":"INVALID_EMAIL_OR_PASSWORD","message":"Invalid email or password"}"#)
            let unknown = try await server.client.post(
                "/api/auth/sign-in/email",
                #"{"email":"nobody@example.com","password":"Wr0ng!pass"}"#
            )
            #expect(unknown.body == wrong.body)

            // With a cookie, a write must say where it comes from (Better Auth's origin check).
            let unstated = try await server.client.post(
                "/api/auth/sign-out",
                "{}",
                headers: [("Cookie", "better-auth.session_token=\(token)")]
            )
            #expect(unstated.status == 403)
            #expect(unstated.body == #"{"code":"MISSING_OR_NULL_ORIGIN","message":"Missing or null Origin"}"#)
            let elsewhere = try await server.client.post(
                "/api/auth/sign-out",
                "{}",
                headers: [("Cookie", "better-auth.session_token=\(token)"), ("Origin", "null")]
            )
            #expect(elsewhere.status == 403)

            // Sign out ends the session and clears both cookies.
            let out = try await server.client.post(
                "/api/auth/sign-out",
                "{}",
                headers: [("Cookie", "better-auth.session_token=\(token)"), ("Origin", "http://localhost:3000")]
            )
            #expect(out.body == #"{"success":true}"#)
            #expect(out.headers("Set-Cookie").filter { $0.contains("Max-Age=0") }.count == 2)
            #expect(try await server.client.get("/api/auth/get-session", bearer: token).body == "null")
            #expect(try await server.client.get("/api/users/me", bearer: token).status == 401)
        }
    }

    @Test func rememberMeFalseGivesABrowserSessionCookie() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let reply = try await server.client.post(
                "/api/auth/sign-in/email",
                #"{"email":"ada@example.com","password":"\#(TestServer.password)","rememberMe":false}"#
            )
            #expect(reply.status == 200)
            let cookie = try #require(reply.headers("Set-Cookie").first { $0.hasPrefix("better-auth.session_token=") })
            #expect(!cookie.contains("Max-Age") && !cookie.contains("Expires"))
            #expect(cookie.contains("HttpOnly"))
        }
    }

    @Test func theSamePoliciesApply() async throws {
        try await TestServer.run(yaml: "features:\n  registration: false\n") { server in
            let off = try await server.client.post(
                "/api/auth/sign-up/email",
                #"{"name":"Kim","email":"kim@example.com","password":"Str0ng!pass"}"#
            )
            #expect(off.status == 503)
            #expect(off.body == #"{"code":"SERVICE_UNAVAILABLE","message":"Registration is currently disabled"}"#)

            // Registration on, sign-in off: the account is made, without a session.
            try server.writeConfig("features:\n  login: false\n")
            try await server.host.reload()
            let noLogin = try await server.client.post(
                "/api/auth/sign-up/email",
                #"{"name":"Kim","email":"kim@example.com","password":"Str0ng!pass"}"#
            )
            #expect(noLogin.status == 200)
            #expect(noLogin.json?["token"] == .null && noLogin.cookie("better-auth.session_token") == nil)
            #expect(try await server.core.store.user(email: "kim@example.com") != nil)
            try server.writeConfig("")
            try await server.host.reload()

            // Lockout after five failures, with Retry-After.
            try await server.createUser("ada@example.com")
            for _ in 0..<5 {
                _ = try await server.client.post(
                    "/api/auth/sign-in/email",
                    #"{"email":"ada@example.com","password":"Wr0ng!pass"}"#
                )
            }
            let locked = try await server.client.post(
                "/api/auth/sign-in/email",
                #"{"email":"ada@example.com","password":"\#(TestServer.password)"}"#
            )
            #expect(locked.status == 429)
            #expect(locked.json?["code"] == "TOO_MANY_REQUESTS")
            #expect(locked.header("Retry-After") != nil)

            // Bad bodies: 400, never 5xx.
            for body in ["{}", #"{"email":5,"password":"x"}"#, "nope", #"{"email":"a@b.co"}"#] {
                let reply = try await server.client.post("/api/auth/sign-in/email", body)
                #expect(reply.status == 400, "\(body) → \(reply)")
            }
        }
    }

    @Test func twoFactorAnswersAsBetterAuthsPluginDoes() async throws {
        try await TestServer.run { server in
            try await server.createUser("ada@example.com")
            let session = try await server.client.login("ada@example.com", TestServer.password)
            let (secret, _, at) = try await enableTwoFactor(server, session: session)

            let first = try await server.client.post(
                "/api/auth/sign-in/email",
                #"{"email":"ada@example.com","password":"\#(TestServer.password)"}"#
            )
            #expect(first.status == 200)
            #expect(first.body == #"{"twoFactorRedirect":true}"#)
            #expect(first.cookie("better-auth.session_token") == nil)
            let pending = try #require(first.cookie("better-auth.two_factor"))

            let code = try Oathtool.totp(secret: secret, at: at.addingTimeInterval(30))
            let verified = try await server.client.post(
                "/api/auth/two-factor/verify-totp",
                #"{"code":"\#(code)"}"#,
                headers: [("Cookie", "better-auth.two_factor=\(pending)"), ("Origin", "http://localhost:3000")]
            )
            #expect(verified.status == 200, "\(verified)")
            #expect(verified.json?.objectKeys == ["token", "user"])
            let token = try #require(verified.json?["token"]?.stringValue)
            #expect(
                try await server.client.get("/api/auth/get-session", bearer: token).json?["user"]?["email"]
                    == "ada@example.com"
            )
            let noCookie = try await server.client.post("/api/auth/two-factor/verify-totp", #"{"code":"123456"}"#)
            #expect(noCookie.status == 401)
            #expect(noCookie.json?["code"] == "INVALID_TWO_FACTOR_COOKIE")
        }
    }
}
