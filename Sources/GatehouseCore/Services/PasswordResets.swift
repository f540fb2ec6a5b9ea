import Foundation

/// Forgotten passwords: the reset mail and the reset itself.
public struct PasswordResets: Sendable {
    let core: Core
    /// The account rules these build on (password checks, audit rows, mails).
    var accounts: Accounts { core.accounts }
    public static let invalidReset = GatehouseError(.badRequest, "Invalid or expired reset token", code: .invalidToken)

    /// Mails a reset link when `email` belongs to an account; answers the same either way. At
    /// most `policies.rateLimit.passwordReset` mails per account and requests per address: over
    /// that, nothing is sent and the caller still hears success. Known and unknown addresses
    /// both cost one lookup and one write (the audit row), so timing tells nothing either.
    ///
    /// `link` makes the mail's link from the token; the default is the panel's reset page
    /// (`mail.panelURL` + `/reset-password?token=`).
    public func requestPasswordReset(
        email: String,
        clientIP: String? = nil,
        link: (@Sendable (String) -> String)? = nil
    ) async throws {
        let email = try Validate.boundedEmail(email)
        guard
            (try? await core.checkPolicies(PolicyInput(point: .passwordResetMail, clientIP: clientIP, email: email)))
                != nil
        else { return }
        let user = try await core.store.user(email: email)
        guard let user, !user.suspended else {
            await accounts.audit(
                AuditEvent(.passwordResetRequested, userId: user?.id, detail: ["email": .string(email), "sent": false])
            )
            return
        }
        let (reset, token) = PasswordReset.make(userId: user.id)
        let settings = core.settings.mail
        let mail = try accounts.mail(
            "password-reset",
            to: user.email,
            subject: "Reset your \(settings.productName) password",
            values: ["link": link?(token) ?? "\(settings.panelURL)/reset-password?token=\(token)"]
        )
        try await core.store.createPasswordReset(
            reset,
            mail: mail,
            audit: AuditEvent(
                .passwordResetRequested,
                userId: user.id,
                detail: ["email": .string(email), "sent": true]
            )
        )
        core.outboxNudge.signal()
    }

    /// Whether `token` is a reset token that can still be used (nothing is spent).
    public func isUsable(token: String) async throws -> Bool {
        guard !token.isEmpty, token.utf8.count <= 256,
            let reset = try await core.store.passwordReset(tokenHash: Secrets.sha256Hex(token))
        else { return false }
        return reset.expiresAt > Date()
    }

    /// Sets a new password with a reset token; every session of the account ends.
    public func resetPassword(token: String, password: String) async throws {
        guard !token.isEmpty, token.utf8.count <= 256,
            let reset = try await core.store.passwordReset(tokenHash: Secrets.sha256Hex(token)),
            reset.expiresAt > Date(),
            let user = try await core.store.user(id: reset.userId)
        else { throw Self.invalidReset }
        if let issue = Validate.newPassword(password) { throw GatehouseError.validation([issue]) }
        try await accounts.checkNewPassword(password, email: user.email)
        let notice = try accounts.mail(
            "account-recovered",
            to: user.email,
            subject: "Your \(core.settings.mail.productName) password was reset",
            values: [:]
        )
        try await core.store.completePasswordReset(
            userId: user.id,
            passwordHash: try await core.passwords.hash(password),
            notice: notice,
            audit: AuditEvent(.passwordReset, userId: user.id)
        )
        core.outboxNudge.signal()
    }

}
