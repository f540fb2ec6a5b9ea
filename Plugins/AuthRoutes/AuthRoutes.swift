import GatehouseCore
import Hummingbird

/// `routes.auth` (CONTRACT §3): sign-in (with a second factor when on) and sign-out, TOTP
/// two-factor setup, email verification, password reset.
public struct AuthRoutes: RouteModule {
    public static let id = "routes.auth"
    /// Setting up two-factor sign-in (`features.twoFactor`).
    public static let twoFactor = Feature("twoFactor")
    public static let features = [twoFactor]

    public init(config: ConfigSection) throws {}

    struct LoginRequest: Decodable {
        var email: String
        var password: String
    }

    /// `{token}` from the link, or `{email, code}`.
    struct VerifyRequest: Decodable {
        var token: String?
        var email: String?
        var code: String?
    }

    struct ForgotRequest: Decodable {
        var email: String
    }

    struct ResetRequest: Decodable {
        var token: String
        var password: String
    }

    struct EnableTwoFactorRequest: Decodable {
        var code: String
        var password: String
    }

    struct DisableTwoFactorRequest: Decodable {
        var password: String
        var code: String
    }

    struct VerifyLoginRequest: Decodable {
        var tempToken: String
        var code: String
    }

    public static func mount(on router: RouterGroup<GatehouseContext>, core: Core) {
        let auth = router.group("api/auth")

        // Always the same answer, whether or not the email has an account.
        auth.post("password/forgot") { request, context in
            let body = try await request.decodeJSON(ForgotRequest.self, context: context)
            try await core.passwordResets.requestPasswordReset(email: body.email, clientIP: context.clientIP)
            return JSONReply(.success)
        }

        auth.post("password/reset") { request, context in
            let body = try await request.decodeJSON(ResetRequest.self, context: context)
            try await core.passwordResets.resetPassword(token: body.token, password: body.password)
            return JSONReply(.success)
        }

        auth.post("verify-email") { request, context in
            let body = try await request.decodeJSON(VerifyRequest.self, context: context)
            if let token = body.token {
                try await core.registrations.verifyEmail(token: token)
            } else if let email = body.email, let code = body.code {
                try await core.registrations.verifyEmail(email: email, code: code)
            } else {
                throw GatehouseError.validation([
                    FieldIssue(field: "token", message: "send the token from the link, or email and code")
                ])
            }
            return JSONReply(.success)
        }

        auth.post("verify-email/resend") { _, context in
            let principal = try context.requirePrincipal()
            try await core.registrations.sendNewVerification(for: principal.user, clientIP: context.clientIP)
            return JSONReply(.success)
        }

        auth.post("login") { request, context in
            let body = try await request.decodeJSON(LoginRequest.self, context: context)
            let result = try await core.signIns.signIn(
                email: body.email,
                password: body.password,
                clientIP: context.clientIP,
                userAgent: request.headers[.userAgent]
            )
            switch result {
            case .signedIn(let user, let token):
                return signedIn(user, token: token, core: core)
            case .twoFactorRequired(let tempToken):
                return JSONReply(.object([("twoFactorRequired", true), ("tempToken", .string(tempToken))]))
            }
        }

        // Answers like login (CONTRACT §10).
        auth.post("2fa/verify-login") { request, context in
            let body = try await request.decodeJSON(VerifyLoginRequest.self, context: context)
            let (user, token) = try await core.signIns.completeSignIn(
                tempToken: body.tempToken,
                code: body.code,
                clientIP: context.clientIP,
                userAgent: request.headers[.userAgent]
            )
            return signedIn(user, token: token, core: core)
        }

        // Setting up is an optional feature (`features.twoFactor`); switching it off never
        // weakens an account that has 2FA on: its sign-in still asks for the code, and it
        // can still turn 2FA off.
        auth.post("2fa/setup") { _, context in
            let principal = try context.requireSession()
            try await core.checkPolicies(PolicyInput.feature(twoFactor, principal: principal))
            let setup = try await core.twoFactor.setUpTwoFactor(for: principal.user)
            return JSONReply(.object([("secret", .string(setup.secret)), ("otpauthUrl", .string(setup.otpauthUrl))]))
        }

        auth.post("2fa/enable") { request, context in
            let principal = try context.requireSession()
            try await core.checkPolicies(PolicyInput.feature(twoFactor, principal: principal))
            let body = try await request.decodeJSON(EnableTwoFactorRequest.self, context: context)
            let codes = try await core.twoFactor.enableTwoFactor(
                for: principal.user,
                code: body.code,
                password: body.password
            )
            return JSONReply(.object([("success", true), ("backupCodes", .array(codes.map(JSONValue.string)))]))
        }

        auth.post("2fa/disable") { request, context in
            let principal = try context.requireSession()
            let body = try await request.decodeJSON(DisableTwoFactorRequest.self, context: context)
            try await core.twoFactor.disableTwoFactor(for: principal.user, password: body.password, code: body.code)
            return JSONReply(.success)
        }

        auth.post("logout") { _, context in
            let principal = try context.requireSession()
            if let sessionId = principal.sessionId {
                try await core.sessions.revoke(sessionId: sessionId, userId: principal.user.id)
            }
            return JSONReply(.success, cookies: [SessionCookie.clear(settings: core.settings)])
        }
    }

    /// The reply to a finished sign-in: the profile, the token and the session cookie.
    static func signedIn(_ user: User, token: String, core: Core) -> JSONReply {
        let settings = core.settings
        return JSONReply(
            .object([("user", ProfileView.json(user, settings: settings)), ("token", .string(token))]),
            cookies: [SessionCookie.make(token: token, settings: settings)]
        )
    }
}
