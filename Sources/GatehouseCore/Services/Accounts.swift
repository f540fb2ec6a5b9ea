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
        let user: User?
        do {
            user = try await core.store.user(email: email)
        } catch {
            // Not an answer to the guess: its reserved slot goes back.
            await core.recordPolicyEvent(.credentialPassed(email: email))
            throw error
        }
        let valid: Bool
        if let user {
            valid = await core.passwords.verify(password, against: user.passwordHash)
        } else {
            await core.passwords.verifyDummy(password)
            valid = false
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
        guard await core.passwords.verify(password, against: user.passwordHash) else {
            await recordLoginFailure(email: user.email, userId: user.id, reason: reason)
            return false
        }
        await core.recordPolicyEvent(.credentialPassed(email: user.email))
        return true
    }

    /// Counts a failed sign-in towards the lockout and audits it.
    func recordLoginFailure(email: String, userId: String?, reason: String) async {
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

    /// A page of accounts, newest first, and how many there are in all.
    public func page(limit: Int, offset: Int) async throws -> (users: [User], total: Int) {
        try await core.store.users(limit: limit, offset: offset)
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
