import Foundation
import GatehouseCore
import Hummingbird

/// `routes.stellarstack`: the StellarStack-style surface (CONTRACT §5): the account and admin
/// user routes (AccountRoutes.swift), Better Auth's routes (BetterAuthRoutes.swift) and the
/// admin email routes. While `sessions.betterAuthCookie` is on, Better Auth's session cookie
/// authenticates requests to every surface, as the core's own cookie does.
public struct StellarStackRoutes: RouteModule, CookieAuthenticator {
    public static let id = "routes.stellarstack"
    public static let features = [twoFactor, twoFactorByMail, impersonation]
    /// StellarStack's names for the mail settings (its providers' own are theirs).
    public static let environmentAliases = [
        EnvironmentAlias("EMAIL_PROVIDER", for: "mail.provider"),
        EnvironmentAlias("EMAIL_FROM", for: "mail.from"),
    ]

    /// Also accept (and, from the Better Auth routes, set) `better-auth.session_token`.
    public let betterAuthCookie: Bool

    /// Better Auth's cookie names (`__Secure-` when cookies are Secure).
    static let betterAuthCookieNames = ["better-auth.session_token", "__Secure-better-auth.session_token"]

    /// `passkeys.rpID`, `.rpName`, `.origins` as configured; unset ones follow the panel
    /// (`relyingParty(core:)`).
    let passkeyRPID: String?
    let passkeyRPName: String?
    let passkeyOrigins: [String]?

    public init(config: ConfigSection) throws {
        betterAuthCookie = try config.section("sessions").bool("betterAuthCookie", default: true)
        let passkeys = config.section("passkeys")
        passkeyRPID = try passkeys.optionalString("rpID").map { $0.lowercased() }
        if let id = passkeyRPID, id.isEmpty || id.contains(where: { $0 == "/" || $0 == ":" || $0 == " " }) {
            throw passkeys.issue("rpID", "must be a host name (the panel's domain, or a parent of it)")
        }
        passkeyRPName = try passkeys.optionalString("rpName")
        let origins = try passkeys.stringList("origins", default: [])
        passkeyOrigins =
            try origins.isEmpty
            ? nil
            : origins.map { text in
                guard let origin = Origin.of(text) else {
                    throw passkeys.issue("origins", "\"\(text)\" is not an origin (scheme://host[:port])")
                }
                return origin
            }
    }

    /// Who passkeys are made for: what `passkeys.*` sets, else the host of `mail.panelURL`,
    /// the product's name and `server.allowedOrigins`. Only origins on the relying party's
    /// domain (its host or a subdomain) count, whatever the list says.
    static func panelParty(id: String?, name: String?, origins: [String]?, core: Core) -> RelyingParty {
        let settings = core.settings
        let rpID = id ?? URLComponents(string: settings.mail.panelURL)?.host?.lowercased() ?? "localhost"
        let onDomain = (origins ?? settings.server.allowedOrigins).filter { origin in
            guard let host = URLComponents(string: origin)?.host?.lowercased() else { return false }
            return host == rpID || host.hasSuffix("." + rpID)
        }
        return RelyingParty(id: rpID, name: name ?? settings.mail.productName, origins: onDomain)
    }

    /// Better Auth signs its cookie as `token.signature`; our tokens contain no dot.
    public func sessionTokens(in request: Request, core: Core) -> [String] {
        guard betterAuthCookie else { return [] }
        return Self.betterAuthCookieNames.compactMap { name in
            request.cookies[name]?.value.removingPercentEncoding?.split(separator: ".").first.map(String.init)
        }
    }

    /// The cookies a Better Auth sign-in sets and its sign-out clears: ours, and Better Auth's
    /// while `sessions.betterAuthCookie` is on.
    static func sessionCookieNames(core: Core) -> [String] {
        guard core.module(StellarStackRoutes.self)?.betterAuthCookie ?? true else { return [SessionCookie.name] }
        let secure = core.settings.server.secureCookies
        return [SessionCookie.name, secure ? betterAuthCookieNames[1] : betterAuthCookieNames[0]]
    }

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
