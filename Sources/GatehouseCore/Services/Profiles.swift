import Foundation

/// A change to a profile. `nil` leaves a field alone; `.some(nil)` clears an optional one.
public struct ProfileChanges: Sendable {
    public var firstName: String?
    public var lastName: String?
    public var displayName: String??
    public var address: String??
    public var billingCity: String??
    public var billingState: String??
    public var billingZip: String??
    public var billingCountry: String??
    public var dateOfBirth: String??
    /// An http(s) URL, or `.some(nil)` to remove the picture.
    public var avatarUrl: String??
    /// Top-level keys replace the stored ones; a key set to `null` is removed.
    public var settings: [(String, JSONValue)]?
    public var email: String?
    public var password: String?
    public var currentPassword: String?
    public var role: Role?
    public var portalType: PortalType?
    public var suspended: Bool?

    public init() {}
}

/// Everything one account change writes, in one transaction.
public struct AccountChange: Sendable {
    public var user: User
    /// End the user's sessions, all but this one (`.some(nil)`: all of them).
    public var endSessionsExcept: String??
    /// A new email verification (replacing the user's others).
    public var verification: EmailVerification?
    public var mails: [OutboxMail]
    public var audit: [AuditEvent]
    /// The change takes a rootAdmin's role away: the store checks, in the same transaction,
    /// that another rootAdmin remains (else `StoreError.lastRootAdmin`).
    public var demotesRootAdmin = false

    public init(
        user: User,
        endSessionsExcept: String?? = nil,
        verification: EmailVerification? = nil,
        mails: [OutboxMail] = [],
        audit: [AuditEvent] = []
    ) {
        self.user = user
        self.endSessionsExcept = endSessionsExcept
        self.verification = verification
        self.mails = mails
        self.audit = audit
    }
}

/// Changing an account: its own profile, or another's by an admin.
public struct Profiles: Sendable {
    let core: Core
    /// The account rules these build on (password checks, audit rows, mails).
    var accounts: Accounts { core.accounts }
    public static let lastRootAdmin = GatehouseError.forbidden("The last rootAdmin cannot be demoted")
    public static let outranked = GatehouseError.forbidden("Only a rootAdmin may manage an admin or rootAdmin account")

    /// The settings keys a user may set on themself; admins may set any.
    public static let userSettingsKeys: Set<String> = ["theme", "locale", "editor", "notifications"]

    /// Applies `changes` to `targetId` on behalf of `actor`, with every rule of CONTRACT §1 and
    /// §4: who may change whom, which fields need an admin, the current password for email and
    /// password, the role rules, the settings whitelist. `confirmedByAdmin`: an admin's change to
    /// someone else's email or password on a surface that does not ask for the admin's own
    /// password (a surface's admin edit that CONTRACT §5 defines so); others always ask.
    public func update(
        _ targetId: String,
        by actor: Principal,
        changes: ProfileChanges,
        confirmedByAdmin: Bool = false
    ) async throws -> User {
        let isSelf = targetId == actor.user.id
        let isAdmin = actor.user.role.isAdmin
        guard isSelf || isAdmin else { throw GatehouseError.forbidden("Forbidden") }
        guard var user = try await core.store.user(id: targetId) else {
            throw GatehouseError.notFound("User not found")
        }
        try Accounts.requireManages(actor, user)
        // Role and suspension decide who runs the panel: a leaked API key may not touch them.
        if changes.role != nil || changes.suspended != nil, actor.sessionId == nil {
            throw GatehouseError.requiresSession
        }
        if !isAdmin {
            for (field, present) in [
                ("role", changes.role != nil), ("portalType", changes.portalType != nil),
                ("suspended", changes.suspended != nil),
            ] where present {
                throw GatehouseError.forbidden("Only admins may change \(field)")
            }
        }
        if changes.email != nil || changes.password != nil {
            guard actor.sessionId != nil else { throw GatehouseError.requiresSession }
        }

        var issues: [FieldIssue] = []
        if let value = changes.firstName {
            if let issue = Validate.name(value, field: "firstName") {
                issues.append(issue)
            } else {
                user.firstName = value
            }
        }
        if let value = changes.lastName {
            if let issue = Validate.name(value, field: "lastName") {
                issues.append(issue)
            } else {
                user.lastName = value
            }
        }
        if let value = changes.displayName {
            if let value, let issue = Validate.name(value, field: "displayName") {
                issues.append(issue)
            } else {
                user.displayName = value
            }
        }
        for (value, field, max, keyPath) in [
            (changes.address, "address", 200, \User.address),
            (changes.billingCity, "billingCity", 100, \User.billingCity),
            (changes.billingState, "billingState", 100, \User.billingState),
            (changes.billingZip, "billingZip", 20, \User.billingZip),
        ] as [(String??, String, Int, WritableKeyPath<User, String?>)] {
            guard let value else { continue }
            if let issue = Validate.optionalText(value, field: field, max: max) {
                issues.append(issue)
            } else {
                user[keyPath: keyPath] = value
            }
        }
        if let value = changes.billingCountry {
            let code = value?.trimmingCharacters(in: .whitespaces).uppercased()
            if let code, let issue = Validate.country(code) { issues.append(issue) } else { user.billingCountry = code }
        }
        if let value = changes.dateOfBirth {
            if let value, let issue = Validate.dateOfBirth(value) {
                issues.append(issue)
            } else {
                user.dateOfBirth = value
            }
        }
        if let value = changes.avatarUrl {
            if let value, let issue = Validate.imageURL(value, field: "image") {
                issues.append(issue)
            } else {
                user.avatarUrl = value
            }
        }
        if let settings = changes.settings {
            for (key, value) in settings {
                if !isAdmin && !Self.userSettingsKeys.contains(key) {
                    issues.append(FieldIssue(field: "settings.\(key)", message: "is not a setting you may change"))
                } else if value == .null {
                    user.settings[key] = nil
                } else {
                    user.settings[key] = value
                }
            }
        }
        var email: String?
        if let value = changes.email {
            let (normalized, issue) = Validate.email(value)
            if let issue { issues.append(issue) } else { email = normalized }
        }
        if let password = changes.password, let issue = Validate.newPassword(password) { issues.append(issue) }
        guard issues.isEmpty else { throw GatehouseError.validation(issues) }

        let actorId = isSelf ? nil : actor.user.id
        let wasRootAdmin = user.role == .rootAdmin
        let wasSuspended = user.suspended
        var audit: [AuditEvent] = []
        if let role = changes.role, role != user.role {
            try await checkRoleChange(of: user, to: role, by: actor)
            audit.append(
                AuditEvent(
                    .roleChanged,
                    userId: user.id,
                    actorId: actorId,
                    detail: ["from": .string(user.role.rawValue), "to": .string(role.rawValue)]
                )
            )
            user.role = role
        }
        if let portalType = changes.portalType { user.portalType = portalType }
        if let suspended = changes.suspended {
            if suspended && isSelf { throw GatehouseError.forbidden("You cannot suspend yourself") }
            if suspended != user.suspended {
                audit.append(
                    AuditEvent(
                        .suspensionChanged,
                        userId: user.id,
                        actorId: actorId,
                        detail: ["suspended": .bool(suspended)]
                    )
                )
            }
            user.suspended = suspended
        }

        var change = AccountChange(user: user, audit: audit)
        change.demotesRootAdmin = wasRootAdmin && user.role != .rootAdmin
        if !(confirmedByAdmin && isAdmin && !isSelf) && (email != nil || changes.password != nil) {
            guard let current = changes.currentPassword, !current.isEmpty else {
                throw GatehouseError.validation(field: "currentPassword", "is required to change email or password")
            }
            guard try await accounts.confirmPassword(current, of: actor.user, reason: "currentPassword") else {
                throw Accounts.wrongCurrentPassword
            }
        }
        if let email, email != user.email {
            // The new address gets a verification mail: the same throttle as asking for another.
            try await core.checkPolicies(
                PolicyInput(point: .verificationMail, clientIP: AuditEvent.clientIP, email: email)
            )
            change.user.email = email
            change.user.emailVerified = false
            let (verification, mail) = try accounts.verificationMail(for: change.user)
            change.verification = verification
            change.mails.append(mail)
            // The old address hears of it: whoever moved the account cannot also hide it.
            change.mails.append(
                try accounts.mail(
                    "email-changed",
                    to: user.email,
                    subject: "The email address of your \(core.settings.mail.productName) account was changed",
                    values: accounts.noticeValues(["newEmail": Self.masked(email)])
                )
            )
            change.audit.append(AuditEvent(.emailChanged, userId: user.id, actorId: actorId))
        }
        if let password = changes.password {
            try await accounts.checkNewPassword(password, email: change.user.email)
            change.user.passwordHash = try await core.passwords.hash(password)
            change.endSessionsExcept = .some(isSelf ? actor.sessionId : nil)
            change.mails.append(try accounts.passwordChangedNotice(to: change.user.email))
            change.audit.append(AuditEvent(.passwordChanged, userId: user.id, actorId: actorId))
        }
        // A suspension ends every session: lifting it later does not bring old tokens back.
        if change.user.suspended && !wasSuspended { change.endSessionsExcept = .some(nil) }
        change.user.updatedAt = Date()
        do {
            try await core.store.applyAccountChange(change)
        } catch StoreError.duplicate(field: "email") {
            throw Accounts.emailTaken
        } catch StoreError.lastRootAdmin {
            throw Self.lastRootAdmin
        }
        if !change.mails.isEmpty { core.outboxNudge.signal() }
        return change.user
    }

    /// An address shown partly: the first character of the local part and the domain
    /// (`a•••@example.com`), enough for the owner to recognise it.
    public static func masked(_ email: String) -> String {
        let parts = email.split(separator: "@", maxSplits: 1)
        guard parts.count == 2, let first = parts[0].first else { return "•••" }
        return "\(first)•••@\(parts[1])"
    }

    /// Only a rootAdmin grants or revokes admin and rootAdmin; the last rootAdmin stays one.
    func checkRoleChange(of user: User, to role: Role, by actor: Principal) async throws {
        if (role.isAdmin || user.role.isAdmin) && actor.user.role != .rootAdmin {
            throw GatehouseError.forbidden("Only a rootAdmin may grant or revoke admin roles")
        }
        // Checked again in the write's transaction (`AccountChange.demotesRootAdmin`), so two
        // rootAdmins demoting each other at once cannot both succeed.
        if user.role == .rootAdmin, role != .rootAdmin, try await core.store.count(role: .rootAdmin) <= 1 {
            throw Self.lastRootAdmin
        }
    }
}
