import GatehouseCore
import Hummingbird

/// API keys and SSH keys (CONTRACT §4). They are part of the EcliPanel surface, so they mount
/// with it; `features.apiKeys` / `features.sshKeys` switch each group off (404), per request.
extension EcliPanelRoutes {
    struct CreateAPIKeyRequest: Decodable {
        var name: String
        var expiresAt: String?
    }

    struct AddSSHKeyRequest: Decodable {
        var name: String?
        var publicKey: String
    }

    /// 404 while the feature is switched off.
    static func requireFeature(_ feature: Feature, core: Core, context: GatehouseContext) async throws {
        try await core.checkPolicies(PolicyInput.feature(feature, principal: context.principal))
    }

    static func json(_ key: APIKey) -> JSONValue {
        .object([
            ("id", .string(key.id)),
            ("name", .string(key.name)),
            ("prefix", .string(key.prefix)),
            ("createdAt", .date(key.createdAt)),
            ("lastUsedAt", key.lastUsedAt.map(JSONValue.date) ?? .null),
            ("expiresAt", key.expiresAt.map(JSONValue.date) ?? .null),
        ])
    }

    static func json(_ key: SSHKey) -> JSONValue {
        .object([
            ("id", .string(key.id)),
            ("name", .string(key.name)),
            ("fingerprint", .string(key.fingerprint)),
            ("createdAt", .date(key.createdAt)),
        ])
    }

    static func mountAPIKeys(on keys: RouterGroup<GatehouseContext>, core: Core) {
        keys.get("my") { _, context in
            try await requireFeature(.apiKeys, core: core, context: context)
            let principal = try context.requirePrincipal()
            return JSONReply(.array(try await core.credentials.apiKeys(userId: principal.user.id).map(json)))
        }

        // Admins may list anyone's keys (never a key itself).
        keys.get("user/:userId") { _, context in
            try await requireFeature(.apiKeys, core: core, context: context)
            let principal = try context.requirePrincipal()
            guard principal.user.role.isAdmin else { throw GatehouseError.forbidden("Forbidden") }
            let userId = try context.parameters.require("userId")
            guard try await core.accounts.user(id: userId) != nil else {
                throw GatehouseError.notFound("User not found")
            }
            return JSONReply(.array(try await core.credentials.apiKeys(userId: userId).map(json)))
        }

        keys.post { request, context in
            try await requireFeature(.apiKeys, core: core, context: context)
            let principal = try context.requireSession()
            let body = try await request.decodeJSON(CreateAPIKeyRequest.self, context: context)
            let (key, secret) = try await core.credentials.createAPIKey(
                by: principal,
                name: body.name,
                expiresAt: body.expiresAt,
                rules: credentialRules(core)
            )
            return JSONReply(
                .object([
                    ("id", .string(key.id)),
                    ("name", .string(key.name)),
                    ("key", .string(secret)),
                    ("prefix", .string(key.prefix)),
                    ("createdAt", .date(key.createdAt)),
                    ("expiresAt", key.expiresAt.map(JSONValue.date) ?? .null),
                ]),
                status: .created
            )
        }

        keys.delete(":id") { _, context in
            try await requireFeature(.apiKeys, core: core, context: context)
            let principal = try context.requirePrincipal()
            try await core.credentials.deleteAPIKey(id: try context.parameters.require("id"), by: principal)
            return JSONReply(.success)
        }
    }

    static func mountSSHKeys(on keys: RouterGroup<GatehouseContext>, core: Core) {
        keys.get { _, context in
            try await requireFeature(sshKeys, core: core, context: context)
            let principal = try context.requirePrincipal()
            return JSONReply(.array(try await core.credentials.sshKeys(userId: principal.user.id).map(json)))
        }

        keys.post { request, context in
            try await requireFeature(sshKeys, core: core, context: context)
            let principal = try context.requirePrincipal()
            let body = try await request.decodeJSON(AddSSHKeyRequest.self, context: context)
            let key = try await core.credentials.addSSHKey(
                by: principal,
                name: body.name,
                publicKey: body.publicKey,
                rules: credentialRules(core)
            )
            return JSONReply(json(key), status: .created)
        }

        keys.delete(":id") { _, context in
            try await requireFeature(sshKeys, core: core, context: context)
            let principal = try context.requirePrincipal()
            try await core.credentials.deleteSSHKey(id: try context.parameters.require("id"), by: principal)
            return JSONReply(.success)
        }
    }
}
