import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// Better Auth's two-factor plugin, as StellarStack's web client calls it: `enable` with the
/// password shows a new secret and its backup codes, and 2FA turns on when `verify-totp` (signed
/// in) confirms a code from it. One user, one 2FA state: the same secret and backup codes as
/// `/api/auth/2fa/*` of `routes.auth`, whichever surface set them up.
extension StellarStackRoutes {
    /// Setting 2FA up (`features.twoFactor`, as on `routes.auth`); turning it off and signing in
    /// with it stay whatever the switch says.
    static let twoFactor = Feature("twoFactor")
    /// A code by mail as the second factor (Better Auth's send-otp/verify-otp): off unless
    /// switched on, because it makes the mailbox enough to pass 2FA.
    static let twoFactorByMail = Feature("twoFactorByMail", defaultOn: false)

    struct PasswordRequest: Decodable {
        var password: String
    }

    static func mountBetterAuthTwoFactor(on auth: RouterGroup<GatehouseContext>, core: Core) {
        auth.post("two-factor/enable") { request, context in
            try await speakingBetterAuth {
                let principal = try context.requireSession()
                try await core.checkPolicies(PolicyInput.feature(twoFactor, principal: principal))
                let body = try await request.decodeJSON(PasswordRequest.self, context: context)
                let (uri, codes) = try await core.twoFactor.startTwoFactor(for: principal.user, password: body.password)
                return JSONReply(
                    .object([("totpURI", .string(uri)), ("backupCodes", .array(codes.map { .string($0) }))])
                )
            }
        }

        // The password alone, as Better Auth asks; the owner is mailed.
        auth.post("two-factor/disable") { request, context in
            try await speakingBetterAuth {
                let principal = try context.requireSession()
                let body = try await request.decodeJSON(PasswordRequest.self, context: context)
                try await core.twoFactor.disableTwoFactor(for: principal.user, password: body.password, code: nil)
                return JSONReply(.object([("status", true)]), cookies: [trustDeviceCookie(nil, core: core)])
            }
        }

        auth.post("two-factor/get-totp-uri") { request, context in
            try await speakingBetterAuth {
                let principal = try context.requireSession()
                let body = try await request.decodeJSON(PasswordRequest.self, context: context)
                let uri = try await core.twoFactor.provisioningURL(for: principal.user, password: body.password)
                return JSONReply(.object([("totpURI", .string(uri))]))
            }
        }

        auth.post("two-factor/generate-backup-codes") { request, context in
            try await speakingBetterAuth {
                let principal = try context.requireSession()
                let body = try await request.decodeJSON(PasswordRequest.self, context: context)
                let codes = try await core.twoFactor.regenerateBackupCodes(for: principal.user, password: body.password)
                return JSONReply(.object([("status", true), ("backupCodes", .array(codes.map { .string($0) }))]))
            }
        }
    }

    /// `verify-totp` signed in: confirms a pending 2FA (it turns on, and the session is replaced
    /// with a new one, as Better Auth does), or only checks the code when 2FA is on already.
    static func confirmTwoFactor(
        _ principal: Principal,
        code: String,
        _ request: Request,
        _ context: GatehouseContext,
        core: Core
    ) async throws -> JSONReply {
        guard let sessionId = principal.sessionId else { throw GatehouseError.requiresSession }
        let enabled = try await core.twoFactor.confirmTwoFactor(for: principal.user, code: code)
        guard enabled, let user = try await core.accounts.user(id: principal.user.id) else {
            return JSONReply(.object([("token", .null), ("user", betterAuthUser(principal.user))]))
        }
        return try await replacingSession(sessionId, of: user, request, context, core: core)
    }
}
