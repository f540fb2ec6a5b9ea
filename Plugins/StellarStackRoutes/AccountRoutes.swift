import GatehouseCore
import HTTPTypes
import Hummingbird

/// The StellarStack view of users (CONTRACT §2) and its account routes: `/api/account/me` and
/// the admin user routes. Every rule is the core's; this file maps fields and words.
extension StellarStackRoutes {
    /// StellarStack's name for a user: the display name, else first and last name.
    static func name(_ user: User) -> String {
        if let displayName = user.displayName, !displayName.isEmpty { return displayName }
        return [user.firstName, user.lastName].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// StellarStack's two roles: admin and rootAdmin are `admin`; user and staff are `user`.
    static func role(_ user: User) -> String { user.role.isAdmin ? "admin" : "user" }

    /// `{id, name, email, emailVerified, image, role, createdAt, _count: {servers}}`.
    static func view(_ user: User, servers: Int) -> JSONValue {
        .object([
            ("id", .string(user.id)),
            ("name", .string(name(user))),
            ("email", .string(user.email)),
            ("emailVerified", .bool(user.emailVerified)),
            ("image", .string(user.avatarUrl)),
            ("role", .string(role(user))),
            ("createdAt", .date(user.createdAt)),
            ("_count", .object([("servers", .int(servers))])),
        ])
    }

    /// What PATCH answers: `{id, name, email, image, role}`.
    static func patched(_ user: User) -> JSONValue {
        .object([
            ("id", .string(user.id)),
            ("name", .string(name(user))),
            ("email", .string(user.email)),
            ("image", .string(user.avatarUrl)),
            ("role", .string(role(user))),
        ])
    }

    static func serverCount(_ userId: String, core: Core) async throws -> Int {
        try await core.servers.counts(ownerIds: [userId])[userId] ?? 0
    }

    /// Reads `name`, `image` (and, for admins, `email`, `role`) of a PATCH body, each checked
    /// for its type; other fields are ignored.
    static func changes(_ body: JSONValue, admin: Bool) throws -> ProfileChanges {
        var changes = ProfileChanges()
        var issues: [FieldIssue] = []
        switch body["name"] {
        case nil: break
        case .string(let value)?:
            // Checked here so that a refusal names StellarStack's field.
            if let issue = Validate.name(value, field: "name") {
                issues.append(issue)
            } else {
                changes.displayName = .some(value.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        default: issues.append(FieldIssue(field: "name", message: "must be a string"))
        }
        switch body["image"] {
        case nil: break
        case .null?: changes.avatarUrl = .some(nil)
        case .string(let value)?: changes.avatarUrl = .some(value.trimmingCharacters(in: .whitespaces))
        default: issues.append(FieldIssue(field: "image", message: "must be a string or null"))
        }
        if admin {
            switch body["email"] {
            case nil: break
            case .string(let value)?: changes.email = value
            default: issues.append(FieldIssue(field: "email", message: "must be a string"))
            }
            switch body["role"] {
            case nil: break
            case .string("user")?: changes.role = .user
            case .string("admin")?: changes.role = .admin
            default: issues.append(FieldIssue(field: "role", message: "must be \"user\" or \"admin\""))
            }
        }
        guard issues.isEmpty else { throw GatehouseError.validation(issues) }
        return changes
    }

    /// A StellarStack role that names the view role the user already has changes nothing
    /// (a staff member stays staff as `user`, a rootAdmin stays rootAdmin as `admin`).
    static func keepingEquivalentRole(_ changes: ProfileChanges, of user: User) -> ProfileChanges {
        var changes = changes
        if let role = changes.role, role.isAdmin == user.role.isAdmin { changes.role = nil }
        return changes
    }

    struct CreateUserRequest: Decodable {
        var name: String
        var email: String
        var password: String
        var role: String?
    }

    static func mountAccount(on router: RouterGroup<GatehouseContext>, core: Core) {
        let account = router.group("api/account")

        account.get("me") { _, context in
            let principal = try context.requirePrincipal()
            let user = principal.user
            return JSONReply(view(user, servers: try await serverCount(user.id, core: core)))
        }

        account.patch("me") { request, context in
            let principal = try context.requirePrincipal()
            let body = try await request.decodeJSON(JSONValue.self, context: context)
            let user = try await core.profiles.update(
                principal.user.id,
                by: principal,
                changes: try changes(body, admin: false)
            )
            return JSONReply(patched(user))
        }

        account.delete("me") { _, context in
            let principal = try context.requirePrincipal()
            try await core.accountAdmin.delete(principal.user.id, by: principal, via: .own)
            return JSONReply(.success, cookies: [SessionCookie.clear(settings: core.settings)])
        }

        let users = account.group("users")

        users.get { request, context in
            _ = try context.requireAdmin()
            let limit = try pageParameter(request, "limit", default: 50, range: 1...200)
            let offset = try pageParameter(request, "offset", default: 0, range: 0...Int(Int32.max))
            // `before`: the id of the last user of the page before (a cursor that costs the
            // same at any depth, unlike `offset`).
            let before = request.uri.queryParameters.get("before").flatMap { $0.isEmpty ? nil : String($0) }
            let (list, total) = try await core.accounts.page(limit: limit, offset: offset, before: before)
            let counts = try await core.servers.counts(ownerIds: list.map(\.id))
            var headers = HTTPFields()
            headers[HTTPField.Name("X-Total-Count")!] = String(total)
            return JSONReply(.array(list.map { view($0, servers: counts[$0.id] ?? 0) }), headers: headers)
        }

        users.post { request, context in
            let principal = try context.requireAdmin()
            let body = try await request.decodeJSON(CreateUserRequest.self, context: context)
            let role: Role
            switch body.role {
            case nil, "user"?: role = .user
            case "admin"?: role = .admin
            default: throw GatehouseError.validation(field: "role", "must be \"user\" or \"admin\"")
            }
            let user = try await core.accountAdmin.createByAdmin(
                name: body.name,
                email: body.email,
                password: body.password,
                role: role,
                by: principal
            )
            return JSONReply(
                .object([
                    ("id", .string(user.id)),
                    ("name", .string(name(user))),
                    ("email", .string(user.email)),
                    ("emailVerified", .bool(user.emailVerified)),
                    ("role", .string(self.role(user))),
                    ("createdAt", .date(user.createdAt)),
                ]),
                status: .created
            )
        }

        users.get(":id") { _, context in
            _ = try context.requireAdmin()
            guard let user = try await core.accounts.user(id: try context.parameters.require("id")) else {
                throw AccountAdmin.userNotFound
            }
            let servers = try await core.servers.owned(by: user.id)
            guard case .object(var members) = view(user, servers: servers.count) else { return JSONReply(.null) }
            members.append(("servers", .array(servers.map { ServerView.json($0, brief: true) })))
            return JSONReply(.object(members))
        }

        users.patch(":id") { request, context in
            let principal = try context.requireAdmin()
            let id = try context.parameters.require("id")
            guard let target = try await core.accounts.user(id: id) else { throw AccountAdmin.userNotFound }
            let body = try await request.decodeJSON(JSONValue.self, context: context)
            let user = try await core.profiles.update(
                id,
                by: principal,
                changes: keepingEquivalentRole(try changes(body, admin: true), of: target),
                confirmedByAdmin: true
            )
            return JSONReply(view(user, servers: try await serverCount(user.id, core: core)))
        }

        users.delete(":id") { _, context in
            let principal = try context.requireAdmin()
            try await core.accountAdmin.delete(try context.parameters.require("id"), by: principal, via: .admin)
            return JSONReply(.success)
        }
    }

    /// A whole-number query parameter within `range`; 400 naming it otherwise.
    static func pageParameter(_ request: Request, _ name: String, default value: Int, range: ClosedRange<Int>) throws
        -> Int
    {
        guard let text = request.uri.queryParameters.get(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw GatehouseError.validation(
                field: name,
                "must be a whole number from \(range.lowerBound) to \(range.upperBound)"
            )
        }
        return number
    }
}
