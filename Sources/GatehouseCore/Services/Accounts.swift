import Foundation

/// What it takes to create an account.
public struct NewUser: Sendable {
    public var email: String
    public var password: String
    public var firstName: String
    public var lastName: String
    public var displayName: String?
    public var role: Role
    public var emailVerified: Bool

    public init(
        email: String,
        password: String,
        firstName: String,
        lastName: String,
        displayName: String? = nil,
        role: Role = .user,
        emailVerified: Bool = false
    ) {
        self.email = email
        self.password = password
        self.firstName = firstName
        self.lastName = lastName
        self.displayName = displayName
        self.role = role
        self.emailVerified = emailVerified
    }
}

/// Accounts: creation, sign-in and lookup. Both surfaces call these, so both obey one set of rules.
public struct Accounts: Sendable {
    let core: Core

    public static let invalidCredentials = GatehouseError(
        .unauthorized,
        "Invalid email or password",
        code: .invalidCredentials
    )
    public static let emailTaken = GatehouseError(.conflict, "Email already registered", code: .emailTaken)

    /// Validates and stores a new account; the password goes through the password-set policies.
    /// `actorId`: the admin who made it, for the audit event (nil for the CLI).
    public func create(_ new: NewUser, clientIP: String? = nil, actorId: String? = nil) async throws -> User {
        let (email, emailIssue) = Validate.email(new.email)
        var issues = [emailIssue].compactMap { $0 }
        if let issue = Validate.name(new.firstName, field: "firstName") { issues.append(issue) }
        if let issue = Validate.lastName(new.lastName, displayName: new.displayName) { issues.append(issue) }
        if let issue = Validate.newPassword(new.password) { issues.append(issue) }
        guard issues.isEmpty else { throw GatehouseError.validation(issues) }
        try await checkNewPassword(new.password, email: email, clientIP: clientIP)

        let user = User(
            email: email,
            passwordHash: try await core.passwords.hash(new.password),
            firstName: new.firstName.trimmingCharacters(in: .whitespacesAndNewlines),
            lastName: new.lastName.trimmingCharacters(in: .whitespacesAndNewlines),
            displayName: new.displayName,
            role: new.role,
            emailVerified: new.emailVerified
        )
        do {
            try await core.store.insertUser(
                user,
                audit: [
                    AuditEvent(
                        .userCreated,
                        userId: user.id,
                        actorId: actorId,
                        detail: ["role": .string(user.role.rawValue)]
                    )
                ]
            )
        } catch StoreError.duplicate(field: "email") {
            throw Self.emailTaken
        }
        return user
    }

    /// The account for an email and password. Unknown emails cost the same time as wrong
    /// passwords and get the same answer; a suspended account is refused after the password
    /// check. The attempt is reserved with the lockout before the password is checked
    /// (`DecisionPoint.credentialCheck`), so a burst cannot have more guesses checked than the
    /// lockout allows; a failure is audited, a success gives its reservation back (`signIn`
    /// clears the count once no second factor is owed).
    public func authenticate(email: String, password: String) async throws -> User {
        let email = try Validate.boundedEmail(email)
        try await core.checkPolicies(PolicyInput(point: .credentialCheck, email: email))
        let user = try await unanswered(email) { try await core.store.user(email: email) }
        let valid = try await unanswered(email) {
            guard let user else {
                try await core.passwords.verifyDummy(password)
                return false
            }
            return try await core.passwords.verify(password, against: user.passwordHash)
        }
        guard let user, valid else {
            await recordLoginFailure(email: email, userId: user?.id, reason: "password")
            throw Self.invalidCredentials
        }
        await core.recordPolicyEvent(.credentialPassed(email: email))
        if user.suspended { throw GatehouseError.suspended }
        return user
    }

    /// Checks a password that `user` typed to confirm an action (a new email or password, 2FA
    /// on or off). It counts toward the account's sign-in lockout like a sign-in: reserved
    /// before the check (429 while locked), a failure audited with `reason`.
    public func confirmPassword(_ password: String, of user: User, reason: String) async throws -> Bool {
        try await core.checkPolicies(PolicyInput(point: .credentialCheck, email: user.email))
        let valid = try await unanswered(user.email) {
            try await core.passwords.verify(password, against: user.passwordHash)
        }
        guard valid else {
            await recordLoginFailure(email: user.email, userId: user.id, reason: reason)
            return false
        }
        await core.recordPolicyEvent(.credentialPassed(email: user.email))
        return true
    }

    /// Runs a step of a check reserved with the lockout for `email`. When the step fails
    /// without an answer to the guess (the store failed, or the hashing pool shed the hash), the
    /// reserved slot goes back before the error goes on.
    func unanswered<T>(_ email: String, _ step: () async throws -> T) async throws -> T {
        do {
            return try await step()
        } catch {
            await core.recordPolicyEvent(.credentialPassed(email: email))
            throw error
        }
    }

    /// Counts a failed sign-in towards the lockout and audits it.
    func recordLoginFailure(email: String, userId: String?, reason: String) async {
        core.metrics.signIn(.failed)
        await audit(
            AuditEvent(.loginFailed, userId: userId, detail: ["email": .string(email), "reason": .string(reason)])
        )
        await core.recordPolicyEvent(.loginFailed(email: email))
    }

    /// Records an event that goes with no other write; a failure to record is logged, not thrown.
    public func audit(_ event: AuditEvent) async {
        do {
            try await core.store.recordAudit(event)
        } catch {
            core.logger.error("could not record audit event \(event.kind.rawValue): \(error)")
        }
    }

    public func user(id: String) async throws -> User? {
        try await core.store.user(id: id)
    }

    /// The account with this address (ignoring case), if any.
    public func user(email: String) async throws -> User? {
        try await core.store.user(email: Validate.normalizedEmail(email))
    }

    /// A page of accounts, newest first, and how many there are in all.
    public func page(limit: Int, offset: Int, before: String? = nil) async throws -> (users: [User], total: Int) {
        do {
            return try await core.store.users(limit: limit, offset: offset, before: before)
        } catch StoreError.notFound {
            throw GatehouseError.validation(
                field: "before",
                "names no user (deleted since the page before?); start again from the first page"
            )
        }
    }

    /// The users `query` picks, and how many in all.
    public func find(_ query: UserQuery) async throws -> (users: [User], total: Int) {
        try await core.store.users(matching: query)
    }

    /// Records that sign-in to the account of `email` (if it exists) is locked for `seconds`.
    public func recordSignInLocked(email: String, seconds: Int) async {
        let email = Validate.normalizedEmail(email)
        let user = try? await core.store.user(email: email)
        await audit(
            AuditEvent(
                .loginLocked,
                userId: user?.id,
                detail: ["email": .string(email), "seconds": .number(Double(seconds))]
            )
        )
    }
}

/// The rules the account services share: a new password's checks, the mails they send, the
/// role hierarchy, two-factor proofs, verification mails.
extension Accounts {
    /// A new verification for `user` and the mail that carries its code and link.
    func verificationMail(for user: User) throws -> (EmailVerification, OutboxMail) {
        let (verification, token, code) = EmailVerification.make(userId: user.id)
        let settings = core.settings.mail
        let mail = try mail(
            "verify-email",
            to: user.email,
            subject: "Confirm your email address for \(settings.productName)",
            values: ["code": code, "link": "\(settings.panelURL)/verify-email?token=\(token)"]
        )
        return (verification, mail)
    }

    public static let wrongCurrentPassword = GatehouseError(
        .forbidden,
        "Current password is incorrect",
        code: .wrongPassword
    )

    /// The role hierarchy (`Role.canManage`) for every write to another account, whatever the
    /// field or surface: refused with 403 before anything is read from the request or changed.
    public static func requireManages(_ actor: Principal, _ target: User) throws {
        guard actor.user.id == target.id || actor.user.role.canManage(target.role) else { throw Profiles.outranked }
    }

    /// What `code` would prove for `user`: a TOTP step not yet used (six digits), or a backup
    /// code's hash (spent, or refused, by the store). Nil when it cannot be right.
    func twoFactorProof(_ code: String, for user: User) async throws -> TwoFactorProof? {
        let digits = TwoFactor.digits(code)
        if digits.utf8.count == 6, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) {
            guard let stored = try await core.store.twoFactorSecret(userId: user.id), stored.enabled,
                let secret = core.secretKey.open(stored.sealedSecret),
                let step = TOTP(secret: secret).matchingStep(digits, at: Date()),
                step > (stored.lastUsedStep ?? .min)
            else { return nil }
            return .totp(step: step)
        }
        let backup = BackupCodes.normalized(code)
        guard backup.count == 10 else { return nil }
        return .backupCode(hash: core.secretKey.hash(backup))
    }

    /// Asks the password-set policies (length, classes, breached list...) about a new password.
    func checkNewPassword(_ password: String, email: String, clientIP: String? = nil) async throws {
        try await core.checkPolicies(
            PolicyInput(point: .passwordSet, clientIP: clientIP, email: email, subject: .password(password))
        )
    }

    /// The notice mailed whenever an account's password changes.
    func passwordChangedNotice(to email: String) throws -> OutboxMail {
        try mail(
            "password-changed",
            to: email,
            subject: "Your \(core.settings.mail.productName) password was changed",
            values: [:]
        )
    }

    /// The values every security notice names: when, and from which address (the request's).
    func noticeValues(_ values: [String: String]) -> [String: String] {
        values.merging(["time": Timestamp.string(Date()), "ip": AuditEvent.clientIP ?? "an unknown address"]) { $1 }
    }

    /// An outbox mail from the `name` templates, with `productName` among the values.
    func mail(_ name: String, to: String, subject: String, values: [String: String]) throws -> OutboxMail {
        var values = values
        values["productName"] = core.settings.mail.productName
        let body = try MailTemplates.shared.render(name, values)
        return OutboxMail(
            message: MailMessage(to: to, subject: subject, text: body.text, html: body.html),
            now: Date(),
            template: name
        )
    }
}
