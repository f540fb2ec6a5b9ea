import GatehouseCore
import Hummingbird

/// `routes.eclipanel`: the EcliPanel-style surface (CONTRACT §4).
public struct EcliPanelRoutes: RouteModule {
    public static let id = "routes.eclipanel"
    /// SSH public keys (`features.sshKeys`).
    public static let sshKeys = Feature("sshKeys")
    /// The SSH key routes are switched by their feature (the API key routes by the core's
    /// `apiKeys`).
    public static let features = [sshKeys]

    /// `apiKeys.maxPerUser`, `sshKeys.uniqueAcrossUsers`, `sshKeys.minimumRSABits`.
    public let credentialRules: CredentialRules
    static let defaultRules = CredentialRules(
        apiKeysPerUser: 25,
        sshKeysUniqueAcrossUsers: false,
        sshMinimumRSABits: 2048
    )

    public init(config: ConfigSection) throws {
        let (apiKeys, sshKeys, defaults) = (config.section("apiKeys"), config.section("sshKeys"), Self.defaultRules)
        credentialRules = CredentialRules(
            apiKeysPerUser: try apiKeys.int("maxPerUser", default: defaults.apiKeysPerUser, in: 1...1000),
            sshKeysUniqueAcrossUsers: try sshKeys.bool("uniqueAcrossUsers", default: defaults.sshKeysUniqueAcrossUsers),
            sshMinimumRSABits: try sshKeys.int("minimumRSABits", default: defaults.sshMinimumRSABits, in: 1024...16384)
        )
    }

    /// The rules of the config in force (the module is loaded while its routes are mounted:
    /// a reload cannot remove a route module).
    static func credentialRules(_ core: Core) -> CredentialRules {
        core.module(EcliPanelRoutes.self)?.credentialRules ?? defaultRules
    }

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
        mountAPIKeys(on: router.group("api/apikeys"), core: core)
        mountSSHKeys(on: router.group("api/ssh-keys"), core: core)

        users.put(":id") { request, context in
            let principal = try context.requirePrincipal()
            var id = try context.parameters.require("id")
            if id == "me" { id = principal.user.id }
            let body = try await request.decodeJSON(JSONValue.self, context: context)
            let user = try await core.profiles.update(id, by: principal, changes: try ProfileChangesReader.read(body))
            return JSONReply(ProfileView.json(user, settings: core.settings))
        }

        users.post("register") { request, context in
            let body = try await request.decodeJSON(RegisterRequest.self, context: context)
            let user = try await core.registrations.register(
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
                from: context.origin(of: request)
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

/// Turns a PUT body into `ProfileChanges`: each field's type checked and named, `null` clearing
/// optional fields, fields nobody may set refused with 403 naming them.
enum ProfileChangesReader {
    static let readOnly = [
        "id", "createdAt", "emailVerified", "twoFactorEnabled", "age", "isChildAccount", "passwordHash", "limits",
    ]

    static func read(_ body: JSONValue) throws -> ProfileChanges {
        guard case .object = body else { throw GatehouseError.badRequest("Request body must be a JSON object") }
        for field in readOnly where body[field] != nil {
            throw GatehouseError.forbidden("\(field) cannot be changed")
        }
        var changes = ProfileChanges()
        var issues: [FieldIssue] = []
        func string(_ field: String) -> String? {
            switch body[field] {
            case nil: return nil
            case .string(let value)?: return value
            default:
                issues.append(FieldIssue(field: field, message: "must be a string"))
                return nil
            }
        }
        func optionalString(_ field: String) -> String?? {
            switch body[field] {
            case nil: return nil
            case .null?: return .some(nil)
            case .string(let value)?: return .some(value)
            default:
                issues.append(FieldIssue(field: field, message: "must be a string or null"))
                return nil
            }
        }
        changes.firstName = string("firstName")
        changes.lastName = string("lastName")
        changes.displayName = optionalString("displayName")
        changes.address = optionalString("address")
        changes.billingCity = optionalString("billingCity")
        changes.billingState = optionalString("billingState")
        changes.billingZip = optionalString("billingZip")
        changes.billingCountry = optionalString("billingCountry")
        changes.dateOfBirth = optionalString("dateOfBirth")
        changes.email = string("email")
        changes.password = string("password")
        changes.currentPassword = string("currentPassword")
        switch body["settings"] {
        case nil: break
        case .object(let settings)?: changes.settings = settings
        default: issues.append(FieldIssue(field: "settings", message: "must be an object"))
        }
        if let role = string("role") {
            if let value = Role(rawValue: role) {
                changes.role = value
            } else {
                issues.append(FieldIssue(field: "role", message: "must be one of user, staff, admin, rootAdmin"))
            }
        }
        if let portalType = string("portalType") {
            if let value = PortalType(rawValue: portalType) {
                changes.portalType = value
            } else {
                issues.append(
                    FieldIssue(field: "portalType", message: "must be one of free, paid, educational, enterprise")
                )
            }
        }
        switch body["suspended"] {
        case nil: break
        case .bool(let value)?: changes.suspended = value
        default: issues.append(FieldIssue(field: "suspended", message: "must be true or false"))
        }
        guard issues.isEmpty else { throw GatehouseError.validation(issues) }
        return changes
    }
}
