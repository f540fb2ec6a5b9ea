import GatehouseCore
import Hummingbird

/// `routes.auth`: sign-in and sign-out with a session (CONTRACT §3).
public struct AuthRoutes: RouteModule {
    public static let id = "routes.auth"

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

    public static func mount(on router: RouterGroup<GatehouseContext>, core: Core) {
        let auth = router.group("api/auth")

        // Always the same answer, whether or not the email has an account.
        auth.post("password/forgot") { request, context in
            let body = try await request.decodeJSON(ForgotRequest.self, context: context)
            try await core.accounts.requestPasswordReset(email: body.email)
            return JSONReply(.success)
        }

        auth.post("password/reset") { request, context in
            let body = try await request.decodeJSON(ResetRequest.self, context: context)
            try await core.accounts.resetPassword(token: body.token, password: body.password)
            return JSONReply(.success)
        }

        auth.post("verify-email") { request, context in
            let body = try await request.decodeJSON(VerifyRequest.self, context: context)
            if let token = body.token {
                try await core.accounts.verifyEmail(token: token)
            } else if let email = body.email, let code = body.code {
                try await core.accounts.verifyEmail(email: email, code: code)
            } else {
                throw GatehouseError.validation([
                    FieldIssue(field: "token", message: "send the token from the link, or email and code")
                ])
            }
            return JSONReply(.success)
        }

        auth.post("verify-email/resend") { _, context in
            let principal = try context.requirePrincipal()
            try await core.accounts.resendVerification(for: principal.user)
            return JSONReply(.success)
        }

        auth.post("login") { request, context in
            let body = try await request.decodeJSON(LoginRequest.self, context: context)
            try await core.checkPolicies(PolicyInput(point: .login, clientIP: context.clientIP, email: body.email))
            let user = try await core.accounts.authenticate(email: body.email, password: body.password)
            let (token, _) = try await core.sessions.create(
                for: user,
                ip: context.clientIP,
                userAgent: request.headers[.userAgent]
            )
            let settings = core.settings
            return JSONReply(
                .object([("user", ProfileView.json(user, settings: settings)), ("token", .string(token))]),
                cookies: [SessionCookie.make(token: token, settings: settings)]
            )
        }

        auth.post("logout") { _, context in
            let principal = try context.requireSession()
            if let sessionId = principal.sessionId {
                try await core.sessions.revoke(sessionId: sessionId, userId: principal.user.id)
            }
            return JSONReply(.success, cookies: [SessionCookie.clear(settings: core.settings)])
        }
    }
}
