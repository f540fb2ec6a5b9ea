import GatehouseCore
import Hummingbird

/// `routes.eclipanel`: the EcliPanel-style surface (CONTRACT §4).
public struct EcliPanelRoutes: RouteModule {
    public static let id = "routes.eclipanel"

    public init(config: ConfigSection) throws {}

    /// The register body: EcliPanel's fields. Unknown fields are ignored.
    struct RegisterRequest: Decodable {
        var email: String
        var password: String
        var firstName: String
        var lastName: String
        var displayName: String?
        var dateOfBirth: String?
        var billingCountry: String?
        var address: String?
        var billingCity: String?
        var billingState: String?
        var billingZip: String?
    }

    public static func mount(on router: RouterGroup<GatehouseContext>, core: Core) {
        let users = router.group("api/users")

        mountSessions(on: router.group("api/sessions"), core: core)

        users.post("register") { request, context in
            let body = try await request.decodeJSON(RegisterRequest.self, context: context)
            let user = try await core.accounts.register(
                Registration(
                    email: body.email,
                    password: body.password,
                    firstName: body.firstName,
                    lastName: body.lastName,
                    displayName: body.displayName,
                    dateOfBirth: body.dateOfBirth,
                    billingCountry: body.billingCountry,
                    address: body.address,
                    billingCity: body.billingCity,
                    billingState: body.billingState,
                    billingZip: body.billingZip
                ),
                clientIP: context.clientIP
            )
            return JSONReply(.object([("success", true), ("userId", .string(user.id))]), status: .created)
        }

        // `me` is an alias for the caller. Staff and admins may read anyone; others only themselves.
        users.get(":id") { _, context in
            let principal = try context.requirePrincipal()
            let id = try context.parameters.require("id")
            let user: User
            if id == "me" || id == principal.user.id {
                user = principal.user
            } else {
                guard principal.user.role.canReadUsers else { throw GatehouseError.forbidden("Forbidden") }
                guard let found = try await core.accounts.user(id: id) else {
                    throw GatehouseError.notFound("User not found")
                }
                user = found
            }
            return JSONReply(ProfileView.json(user, settings: core.settings))
        }
    }

    struct LogoutRequest: Decodable {
        var sessionId: String?
    }

    /// `/api/sessions`: list, log out one, log out all (CONTRACT §4).
    static func mountSessions(on sessions: RouterGroup<GatehouseContext>, core: Core) {
        sessions.get(":userId") { _, context in
            let principal = try context.requirePrincipal()
            var userId = try context.parameters.require("userId")
            if userId == "me" { userId = principal.user.id }
            if userId != principal.user.id {
                guard principal.user.role.isAdmin else { throw GatehouseError.forbidden("Forbidden") }
                guard try await core.accounts.user(id: userId) != nil else {
                    throw GatehouseError.notFound("User not found")
                }
            }
            let list = try await core.sessions.list(userId: userId)
            return JSONReply(
                .object([
                    (
                        "sessions",
                        .array(
                            list.map { session in
                                .object([
                                    ("id", .string(session.id)),
                                    ("createdAt", .date(session.createdAt)),
                                    ("lastSeenAt", .date(session.lastSeenAt)),
                                    ("ip", .string(session.ip)),
                                    ("userAgent", .string(session.userAgent)),
                                    ("current", .bool(session.id == principal.sessionId)),
                                ])
                            }
                        )
                    )
                ])
            )
        }

        sessions.post("logout") { request, context in
            let principal = try context.requireSession()
            let body = try await request.decodeOptionalJSON(LogoutRequest.self, context: context)
            if let sessionId = body?.sessionId, sessionId != principal.sessionId {
                guard try await core.sessions.revoke(sessionId: sessionId, userId: principal.user.id) else {
                    throw GatehouseError.notFound("Session not found")
                }
                return JSONReply(.success)
            }
            try await core.sessions.revoke(sessionId: principal.sessionId!, userId: principal.user.id)
            return JSONReply(.success, cookies: [SessionCookie.clear(settings: core.settings)])
        }

        sessions.post("logout-all") { _, context in
            let principal = try context.requireSession()
            try await core.sessions.revokeAll(userId: principal.user.id)
            return JSONReply(.success, cookies: [SessionCookie.clear(settings: core.settings)])
        }
    }
}
