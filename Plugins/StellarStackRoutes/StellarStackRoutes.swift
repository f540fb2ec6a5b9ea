import GatehouseCore
import Hummingbird

/// `routes.stellarstack`: the StellarStack-style surface (CONTRACT §5): the account and admin
/// user routes (AccountRoutes.swift) and the admin email routes.
public struct StellarStackRoutes: RouteModule {
    public static let id = "routes.stellarstack"

    public init(config: ConfigSection) throws {}

    public static func mount(on router: RouterGroup<GatehouseContext>, core: Core) {
        mountAccount(on: router, core: core)
        mountBetterAuth(on: router, core: core)
        let email = router.group("api/account/admin/email")

        email.get("status") { _, context in
            _ = try context.requireAdmin()
            let provider = core.mail.provider
            var details: [(String, JSONValue)] = []
            if case .object(let members) = provider.details { details = members }
            details.append(("from", .string(core.settings.mail.from.description)))
            return JSONReply(
                .object([
                    ("provider", .string(type(of: provider).providerName)),
                    ("configured", .bool(provider.isConfigured)),
                    ("details", .object(details)),
                ])
            )
        }

        email.post("test") { request, context in
            _ = try context.requireAdmin()
            let body = try await request.decodeJSON(JSONValue.self, context: context)
            let address: String
            switch body["email"] {
            case nil, .null?:
                throw GatehouseError.badRequest("Email address required")
            case .string(let text)?:
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty else { throw GatehouseError.badRequest("Email address required") }
                guard Validate.isEmail(trimmed) else { throw GatehouseError.badRequest("Invalid email format") }
                address = trimmed
            default:
                throw GatehouseError.badRequest("Invalid email format")
            }
            do {
                let messageId = try await core.mail.sendTest(to: address)
                return JSONReply(.object([("success", true), ("messageId", .string(messageId))]))
            } catch let error as MailError {
                context.logger.warning("test email failed: \(error.message)")
                return JSONReply(
                    .object([("success", false), ("error", .string(error.message))]),
                    status: .init(code: core.settings.mail.testFailureStatus)
                )
            }
        }
    }
}
