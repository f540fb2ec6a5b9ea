import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// Better Auth's admin plugin, which StellarStack's server enables: listing, creating, roles,
/// bans (our suspension), sessions, removal and passwords, under the same role hierarchy as the
/// other admin surfaces (an admin manages users and staff; only a rootAdmin manages admins).
/// Roles show as StellarStack's two: `admin` (admin, rootAdmin) and `user` (user, staff).
extension StellarStackRoutes {
    struct UserIdRequest: Decodable {
        var userId: String
    }

    struct AdminCreateUserRequest: Decodable {
        var email: String
        var password: String
        var name: String
        var role: String?
    }

    struct SetRoleRequest: Decodable {
        var userId: String
        var role: String
    }

    struct BanRequest: Decodable {
        var userId: String
        var banReason: String?
        var banExpiresIn: Double?
    }

    struct SessionTokenRequest: Decodable {
        var sessionToken: String
    }

    struct SetPasswordRequest: Decodable {
        var userId: String
        var newPassword: String
    }

    /// A user as the admin plugin shows it. A ban lasts until lifted; its reason is not kept.
    static func betterAuthAdminUser(_ user: User) -> JSONValue {
        .object([
            ("id", .string(user.id)),
            ("name", .string(name(user))),
            ("email", .string(user.email)),
            ("emailVerified", .bool(user.emailVerified)),
            ("image", .string(user.avatarUrl)),
            ("createdAt", .date(user.createdAt)),
            ("updatedAt", .date(user.updatedAt)),
            ("role", .string(role(user))),
            ("banned", .bool(user.suspended)),
            ("banReason", .null),
            ("banExpires", .null),
        ])
    }

    static let userNotFound = betterAuthRefusal(.notFound, "USER_NOT_FOUND", "User not found")

    /// `admin/impersonate-user`: off unless the operator turns it on.
    static let impersonation = Feature("impersonation", defaultOn: false)

    /// Where an impersonating admin's own session token waits (Better Auth's cookie name).
    static func adminSessionCookieName(core: Core) -> String {
        core.settings.server.secureCookies ? "__Secure-better-auth.admin_session" : "better-auth.admin_session"
    }

    static func adminSessionCookie(_ token: String?, core: Core) -> Cookie {
        Cookie(
            name: adminSessionCookieName(core: core),
            value: token ?? "",
            maxAge: token == nil ? 0 : Int(Sessions.impersonationLifetime),
            path: "/",
            secure: core.settings.server.secureCookies,
            httpOnly: true,
            sameSite: .lax
        )
    }

    /// The token the caller's session was presented with (a cookie or `Authorization: Bearer`).
    static func presentedToken(of sessionId: String, in request: Request, core: Core) async throws -> String? {
        guard let session = try await core.sessions.find(idOrToken: sessionId), session.id == sessionId else {
            return nil
        }
        var tokens = sessionCookieNames(core: core).compactMap { request.cookies[$0]?.value }
        tokens += core.module(StellarStackRoutes.self)?.sessionTokens(in: request, core: core) ?? []
        if let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") {
            tokens.append(String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        }
        return tokens.first { Secrets.sha256Hex($0) == session.tokenHash }
    }

    /// One of the plugin's roles as ours: `admin` or `user`.
    static func plainRole(_ text: String) throws -> Role {
        switch text {
        case "admin": return .admin
        case "user": return .user
        default:
            throw betterAuthRefusal(
                .badRequest,
                "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE",
                "You are not allowed to set a non-existent role value"
            )
        }
    }

    /// Runs an admin action: an admin caller, else 403 with the action's own code; refusals by
    /// the role hierarchy get that code too. Everything in Better Auth's shape.
    static func asAdmin(
        _ context: GatehouseContext,
        refusing code: String,
        _ message: String,
        _ body: (Principal) async throws -> JSONReply
    ) async throws -> JSONReply {
        try await speakingBetterAuth {
            let principal = try context.requirePrincipal()
            let denied = betterAuthRefusal(.forbidden, code, message)
            guard principal.user.role.isAdmin else { throw denied }
            do {
                return try await body(principal)
            } catch let error as GatehouseError where error.status == .forbidden && error.replacementBody == nil {
                throw denied
            }
        }
    }

    /// The target of an action, which must exist.
    static func target(_ id: String, core: Core) async throws -> User {
        guard let user = try await core.accounts.user(id: id) else { throw userNotFound }
        return user
    }

    static func mountBetterAuthAdmin(on auth: RouterGroup<GatehouseContext>, core: Core) {
        let admin = auth.group("admin")
        mountImpersonation(on: admin, core: core)

        admin.get("list-users") { request, context in
            try await asAdmin(
                context,
                refusing: "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS",
                "You are not allowed to list users"
            ) {
                _ in
                let query = try userQuery(request.uri.queryParameters)
                let (users, total) = try await core.accounts.find(query)
                var members: [(String, JSONValue)] = [
                    ("users", .array(users.map(betterAuthAdminUser))), ("total", .int(total)),
                ]
                if request.uri.queryParameters.get("limit") != nil { members.append(("limit", .int(query.limit))) }
                if query.offset > 0 { members.append(("offset", .int(query.offset))) }
                return JSONReply(.object(members))
            }
        }

        admin.post("create-user") { request, context in
            try await asAdmin(
                context,
                refusing: "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS",
                "You are not allowed to create users"
            ) { principal in
                let body = try await request.decodeJSON(AdminCreateUserRequest.self, context: context)
                let role = try body.role.map(plainRole) ?? .user
                do {
                    let user = try await core.accountAdmin.createByAdmin(
                        name: body.name,
                        email: body.email,
                        password: body.password,
                        role: role,
                        by: principal
                    )
                    return JSONReply(.object([("user", betterAuthAdminUser(user))]))
                } catch let error as GatehouseError where error.code == .emailTaken {
                    throw betterAuthRefusal(
                        .badRequest,
                        "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
                        "User already exists. Use another email."
                    )
                }
            }
        }

        admin.post("set-role") { request, context in
            try await asAdmin(
                context,
                refusing: "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE",
                "You are not allowed to change users role"
            ) { principal in
                let body = try await request.decodeJSON(SetRoleRequest.self, context: context)
                let role = try plainRole(body.role)
                let user = try await target(body.userId, core: core)
                var changes = ProfileChanges()
                changes.role = role
                let updated = try await core.profiles.update(
                    user.id,
                    by: principal,
                    changes: keepingEquivalentRole(changes, of: user)
                )
                return JSONReply(.object([("user", betterAuthAdminUser(updated))]))
            }
        }

        // A ban is our suspension: the user's sessions end and sign-in is refused until
        // unban-user. A ban that ends by itself (`banExpiresIn`) is not offered.
        admin.post("ban-user") { request, context in
            try await asAdmin(context, refusing: "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS", "You are not allowed to ban users")
            {
                principal in
                let body = try await request.decodeJSON(BanRequest.self, context: context)
                if body.banExpiresIn != nil {
                    throw betterAuthRefusal(
                        .badRequest,
                        "VALIDATION_ERROR",
                        "banExpiresIn is not supported: a ban lasts until unban-user"
                    )
                }
                let user = try await target(body.userId, core: core)
                if user.id == principal.user.id {
                    throw betterAuthRefusal(.badRequest, "YOU_CANNOT_BAN_YOURSELF", "You cannot ban yourself")
                }
                var changes = ProfileChanges()
                changes.suspended = true
                let updated = try await core.profiles.update(user.id, by: principal, changes: changes)
                return JSONReply(.object([("user", betterAuthAdminUser(updated))]))
            }
        }

        admin.post("unban-user") { request, context in
            try await asAdmin(context, refusing: "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS", "You are not allowed to ban users")
            {
                principal in
                let body = try await request.decodeJSON(UserIdRequest.self, context: context)
                let user = try await target(body.userId, core: core)
                var changes = ProfileChanges()
                changes.suspended = false
                let updated = try await core.profiles.update(user.id, by: principal, changes: changes)
                return JSONReply(.object([("user", betterAuthAdminUser(updated))]))
            }
        }

        admin.post("list-user-sessions") { request, context in
            try await asAdmin(
                context,
                refusing: "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS",
                "You are not allowed to list users sessions"
            ) { _ in
                let body = try await request.decodeJSON(UserIdRequest.self, context: context)
                let sessions = try await core.sessions.list(userId: body.userId)
                return JSONReply(.object([("sessions", .array(sessions.map { betterAuthSession($0) }))]))
            }
        }

        // Named by its id (as the lists show it) or its token; `{success: true}` either way.
        admin.post("revoke-user-session") { request, context in
            try await asAdmin(
                context,
                refusing: "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
                "You are not allowed to revoke users sessions"
            ) { principal in
                let body = try await request.decodeJSON(SessionTokenRequest.self, context: context)
                if let session = try await core.sessions.find(idOrToken: body.sessionToken) {
                    let owner = try await target(session.userId, core: core)
                    try Accounts.requireManages(principal, owner)
                    try await core.sessions.revoke(sessionId: session.id, userId: owner.id)
                }
                return JSONReply(.success)
            }
        }

        admin.post("revoke-user-sessions") { request, context in
            try await asAdmin(
                context,
                refusing: "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
                "You are not allowed to revoke users sessions"
            ) { principal in
                let body = try await request.decodeJSON(UserIdRequest.self, context: context)
                let user = try await target(body.userId, core: core)
                try Accounts.requireManages(principal, user)
                try await core.sessions.revokeAll(userId: user.id)
                return JSONReply(.success)
            }
        }

        admin.post("remove-user") { request, context in
            try await asAdmin(
                context,
                refusing: "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS",
                "You are not allowed to delete users"
            ) { principal in
                let body = try await request.decodeJSON(UserIdRequest.self, context: context)
                if body.userId == principal.user.id {
                    throw betterAuthRefusal(.badRequest, "YOU_CANNOT_REMOVE_YOURSELF", "You cannot remove yourself")
                }
                _ = try await target(body.userId, core: core)
                try await core.accountAdmin.delete(body.userId, by: principal, via: .admin)
                return JSONReply(.success)
            }
        }

        admin.post("set-user-password") { request, context in
            try await asAdmin(
                context,
                refusing: "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD",
                "You are not allowed to set users password"
            ) { principal in
                let body = try await request.decodeJSON(SetPasswordRequest.self, context: context)
                let user = try await target(body.userId, core: core)
                var changes = ProfileChanges()
                changes.password = body.newPassword
                _ = try await core.profiles.update(user.id, by: principal, changes: changes, confirmedByAdmin: true)
                return JSONReply(.object([("status", true)]))
            }
        }
    }

    /// Impersonation (`features.impersonation`, off by default): the admin's session is kept in
    /// the admin_session cookie while a session as the user (an hour, audited) takes its place;
    /// stop-impersonating swaps them back. Only accounts below the admin (see
    /// `AccountAdmin.impersonate`).
    static func mountImpersonation(on admin: RouterGroup<GatehouseContext>, core: Core) {
        admin.post("impersonate-user") { request, context in
            try await speakingBetterAuth {
                try await core.checkPolicies(PolicyInput.feature(impersonation, principal: context.principal))
                return try await asAdmin(
                    context,
                    refusing: "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS",
                    "You are not allowed to impersonate users"
                ) { principal in
                    let body = try await request.decodeJSON(UserIdRequest.self, context: context)
                    let target = try await target(body.userId, core: core)
                    // An admin target the core's rule refuses gets the plugin's own code.
                    if target.role.isAdmin, !AccountAdmin.mayImpersonate(principal.user, target) {
                        throw betterAuthRefusal(
                            .forbidden,
                            "YOU_CANNOT_IMPERSONATE_ADMINS",
                            "You cannot impersonate admins"
                        )
                    }
                    guard let sessionId = principal.sessionId,
                        let adminToken = try await presentedToken(of: sessionId, in: request, core: core)
                    else { throw GatehouseError.requiresSession }
                    let (token, session, user) = try await core.accountAdmin.impersonate(
                        target.id,
                        by: principal,
                        ip: context.clientIP,
                        userAgent: request.headers[.userAgent]
                    )
                    var reply = withSessionCookies(
                        .object([
                            ("session", betterAuthSession(session, token: token)),
                            ("user", betterAuthAdminUser(user)),
                        ]),
                        token: token,
                        persistent: false,
                        core: core
                    )
                    reply.cookies.append(adminSessionCookie(adminToken, core: core))
                    return reply
                }
            }
        }

        admin.post("stop-impersonating") { request, context in
            try await speakingBetterAuth {
                let principal = try context.requirePrincipal()
                let (adminToken, session, admin) = try await core.accountAdmin.stopImpersonating(
                    principal,
                    adminToken: request.cookies[adminSessionCookieName(core: core)]?.value
                )
                var reply = withSessionCookies(
                    .object([
                        ("session", betterAuthSession(session, token: adminToken)),
                        ("user", betterAuthAdminUser(admin)),
                    ]),
                    token: adminToken,
                    persistent: true,
                    core: core
                )
                reply.cookies.append(adminSessionCookie(nil, core: core))
                return reply
            }
        }
    }

    /// list-users' query: `searchValue`, `searchField` (email, name), `searchOperator`
    /// (contains, starts_with, ends_with), `limit` (1 to 1000, 100 when absent), `offset`,
    /// `sortBy` (createdAt, updatedAt, email, name), `sortDirection` (asc, desc), and a filter on
    /// `role` (`filterField=role&filterValue=admin|user`, operator `eq`).
    static func userQuery(_ parameters: Parameters) throws -> UserQuery {
        func invalid(_ name: String) -> GatehouseError {
            betterAuthRefusal(.badRequest, "VALIDATION_ERROR", "[query.\(name)] Invalid input")
        }
        func number(_ name: String, in range: ClosedRange<Int>, default value: Int) throws -> Int {
            guard let text = parameters.get(name) else { return value }
            guard let number = Int(text), range.contains(number) else { throw invalid(name) }
            return number
        }
        var query = UserQuery(
            limit: try number("limit", in: 1...1000, default: 100),
            offset: try number("offset", in: 0...Int(Int32.max), default: 0)
        )
        if let value = parameters.get("searchValue").map({ String($0) }), !value.isEmpty {
            guard let field = UserQuery.Field(rawValue: parameters.get("searchField").map { String($0) } ?? "email")
            else { throw invalid("searchField") }
            guard
                let match = UserQuery.Match(
                    rawValue: parameters.get("searchOperator").map { String($0) } ?? "contains"
                )
            else { throw invalid("searchOperator") }
            query.search = .init(field: field, match: match, value: String(value.prefix(256)))
        }
        if let sortBy = parameters.get("sortBy") {
            guard let key = UserQuery.SortKey(rawValue: String(sortBy)) else { throw invalid("sortBy") }
            query.sortBy = key
        }
        switch parameters.get("sortDirection").map({ String($0) }) {
        case nil, "asc"?: query.descending = false
        case "desc"?: query.descending = true
        default: throw invalid("sortDirection")
        }
        if let field = parameters.get("filterField") {
            guard field == "role", parameters.get("filterOperator").map({ $0 == "eq" }) ?? true else {
                throw invalid("filterField")
            }
            switch parameters.get("filterValue").map({ String($0) }) {
            case "admin"?: query.roles = [.admin, .rootAdmin]
            case "user"?: query.roles = [.user, .staff]
            default: throw invalid("filterValue")
            }
        }
        return query
    }
}
