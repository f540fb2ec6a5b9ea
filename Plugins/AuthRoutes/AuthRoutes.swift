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

    public static func mount(on router: RouterGroup<GatehouseContext>, core: Core) {
        let auth = router.group("api/auth")

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
