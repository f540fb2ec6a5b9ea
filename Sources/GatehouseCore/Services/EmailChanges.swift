import Foundation

/// Changing an account's address by mailed links instead of the password (for surfaces whose
/// clients change it so): a verified account confirms from its old address first, then every change is
/// proven from the new address, which makes it (the account is then verified at the new one, and
/// the old address hears of it).
public struct EmailChanges: Sendable {
    let core: Core
    var accounts: Accounts { core.accounts }

    public static let sameEmail = GatehouseError(.badRequest, "Email is the same", code: .unchanged)
    public static let invalidLink = GatehouseError(.badRequest, "Invalid or expired link", code: .invalidToken)

    /// Mails the first link. `link` makes a link from a token. An address another account has
    /// gets no mail, and the caller hears the same as for any other. At most
    /// `policies.rateLimit.verificationMail` an hour, for the account and for the new address.
    public func request(
        for user: User,
        newEmail: String,
        clientIP: String?,
        link: @Sendable (String) -> String
    ) async throws {
        let (email, issue) = Validate.email(newEmail, field: "newEmail")
        if let issue { throw GatehouseError.validation([issue]) }
        guard email != user.email else { throw Self.sameEmail }
        try await core.checkPolicies(PolicyInput(point: .verificationMail, clientIP: clientIP, email: user.email))
        try await core.checkPolicies(PolicyInput(point: .verificationMail, email: email))
        guard try await core.store.user(email: email) == nil else { return }
        let stage: EmailChange.Stage = user.emailVerified ? .confirm : .verify
        let (change, token) = EmailChange.make(userId: user.id, newEmail: email, stage: stage)
        try await core.store.saveEmailChange(change, mail: try mail(for: change, user: user, link: link(token)))
        core.outboxNudge.signal()
    }

    /// Follows a link: the old address's confirmation mails the new address its link; the new
    /// address's link makes the change. Returns the user when the change was made.
    public func follow(token: String, link: @Sendable (String) -> String) async throws -> User? {
        guard !token.isEmpty, token.utf8.count <= 256,
            let change = try await core.store.takeEmailChange(tokenHash: Secrets.sha256Hex(token), now: Date()),
            var user = try await core.store.user(id: change.userId), !user.suspended
        else { throw Self.invalidLink }
        switch change.stage {
        case .confirm:
            let (next, token) = EmailChange.make(userId: user.id, newEmail: change.newEmail, stage: .verify)
            try await core.store.saveEmailChange(next, mail: try mail(for: next, user: user, link: link(token)))
            core.outboxNudge.signal()
            return nil
        case .verify:
            let old = user.email
            user.email = change.newEmail
            user.emailVerified = true
            user.updatedAt = Date()
            var account = AccountChange(user: user)
            account.mails.append(
                try accounts.mail(
                    "email-changed",
                    to: old,
                    subject: "The email address of your \(core.settings.mail.productName) account was changed",
                    values: accounts.noticeValues(["newEmail": Profiles.masked(change.newEmail)])
                )
            )
            account.audit.append(AuditEvent(.emailChanged, userId: user.id))
            do {
                try await core.store.applyAccountChange(account)
            } catch StoreError.duplicate(field: "email") {
                // Taken meanwhile by another account.
                throw Self.invalidLink
            }
            core.outboxNudge.signal()
            return user
        }
    }

    func mail(for change: EmailChange, user: User, link: String) throws -> OutboxMail {
        let product = core.settings.mail.productName
        switch change.stage {
        case .confirm:
            return try accounts.mail(
                "email-change-confirm",
                to: user.email,
                subject: "Confirm the new email address of your \(product) account",
                values: accounts.noticeValues(["newEmail": change.newEmail, "link": link])
            )
        case .verify:
            return try accounts.mail(
                "email-change-verify",
                to: change.newEmail,
                subject: "Confirm your new email address for \(product)",
                values: ["link": link]
            )
        }
    }
}
