import Foundation

/// What a visitor sends to open an account (CONTRACT §4's register body).
public struct Registration: Sendable {
    public var email: String
    public var password: String
    public var firstName: String
    public var lastName: String
    public var displayName: String?
    public var dateOfBirth: String?
    public var billingCountry: String?
    public var address: String?
    public var billingCity: String?
    public var billingState: String?
    public var billingZip: String?
    /// A picture URL (an `image`, on surfaces that take one at sign-up).
    public var avatarUrl: String?

    public init(
        email: String,
        password: String,
        firstName: String,
        lastName: String,
        displayName: String? = nil,
        dateOfBirth: String? = nil,
        billingCountry: String? = nil,
        address: String? = nil,
        billingCity: String? = nil,
        billingState: String? = nil,
        billingZip: String? = nil,
        avatarUrl: String? = nil
    ) {
        self.email = email
        self.password = password
        self.firstName = firstName
        self.lastName = lastName
        self.displayName = displayName
        self.dateOfBirth = dateOfBirth
        self.billingCountry = billingCountry
        self.address = address
        self.billingCity = billingCity
        self.billingState = billingState
        self.billingZip = billingZip
        self.avatarUrl = avatarUrl
    }
}

extension Validate {
    /// An ISO 3166-1 alpha-2 code (upper case), or the issue.
    public static func country(_ code: String, field: String = "billingCountry") -> FieldIssue? {
        Countries.isValid(code) ? nil : FieldIssue(field: field, message: "must be an ISO 3166-1 alpha-2 country code")
    }

    /// A `YYYY-MM-DD` date that exists and lies in the past, or the issue.
    public static func dateOfBirth(_ text: String, now: Date = Date(), field: String = "dateOfBirth") -> FieldIssue? {
        guard calendarDate(text) != nil, let age = age(dateOfBirth: text, now: now) else {
            return FieldIssue(field: field, message: "must be a real date in YYYY-MM-DD format")
        }
        let today = Timestamp.string(now).prefix(10)
        if text >= today || age > 150 { return FieldIssue(field: field, message: "must be a date in the past") }
        return nil
    }

    /// An optional free-text field of at most `max` characters, or the issue.
    public static func optionalText(_ value: String?, field: String, max: Int) -> FieldIssue? {
        guard let value else { return nil }
        if value.count > max {
            return FieldIssue(field: field, message: "must be at most \(max) characters", code: .tooLong)
        }
        if value.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) && $0 != "\n" }) {
            return FieldIssue(field: field, message: "must not contain control characters")
        }
        return nil
    }
}

/// Opening an account and verifying its email.
public struct Registrations: Sendable {
    let core: Core
    /// The account rules these build on (password checks, audit rows, mails).
    var accounts: Accounts { core.accounts }
    public static let alreadyVerified = GatehouseError(.badRequest, "Email already verified", code: .alreadyVerified)
    public static let invalidVerification = GatehouseError(
        .badRequest,
        "Invalid or expired verification",
        code: .invalidToken
    )

    /// Opens an account: checks the fields, asks the register and password-set policies, and
    /// stores the user with their email verification and its mail in one transaction.
    public func register(_ form: Registration, from origin: RequestOrigin) async throws -> User {
        let (email, emailIssue) = Validate.email(form.email)
        let country = form.billingCountry?.trimmingCharacters(in: .whitespaces).uppercased()
        var issues = [emailIssue].compactMap { $0 }
        if let issue = Validate.name(form.firstName, field: "firstName") { issues.append(issue) }
        if let issue = Validate.lastName(form.lastName, displayName: form.displayName) { issues.append(issue) }
        if let displayName = form.displayName, let issue = Validate.name(displayName, field: "displayName") {
            issues.append(issue)
        }
        if let issue = Validate.newPassword(form.password) { issues.append(issue) }
        if let country, let issue = Validate.country(country) { issues.append(issue) }
        if let dateOfBirth = form.dateOfBirth, let issue = Validate.dateOfBirth(dateOfBirth) { issues.append(issue) }
        for (value, field, max) in [
            (form.address, "address", 200), (form.billingCity, "billingCity", 100),
            (form.billingState, "billingState", 100), (form.billingZip, "billingZip", 20),
        ] {
            if let issue = Validate.optionalText(value, field: field, max: max) { issues.append(issue) }
        }
        if let url = form.avatarUrl, let issue = Validate.imageURL(url, field: "image") { issues.append(issue) }
        guard issues.isEmpty else { throw GatehouseError.validation(issues) }

        // Shed before the rate limit counts the attempt, when the hash is sure to be shed.
        try core.passwords.refuseIfFull()
        try await core.checkPolicies(
            PolicyInput(
                point: .register,
                clientIP: origin.clientIP,
                email: email,
                subject: .registration(dateOfBirth: form.dateOfBirth, billingCountry: country),
                headers: origin.headers,
                viaTrustedProxy: origin.viaTrustedProxy
            )
        )
        try await accounts.checkNewPassword(form.password, email: email, clientIP: origin.clientIP)

        let user = User(
            email: email,
            passwordHash: try await core.passwords.hash(form.password),
            firstName: form.firstName.trimmingCharacters(in: .whitespacesAndNewlines),
            lastName: form.lastName.trimmingCharacters(in: .whitespacesAndNewlines),
            displayName: form.displayName?.trimmingCharacters(in: .whitespacesAndNewlines),
            address: form.address,
            billingCity: form.billingCity,
            billingState: form.billingState,
            billingZip: form.billingZip,
            billingCountry: country,
            dateOfBirth: form.dateOfBirth,
            avatarUrl: form.avatarUrl
        )
        let (verification, mail) = try accounts.verificationMail(for: user)
        do {
            try await core.store.createAccount(
                user,
                verification: verification,
                mail: mail,
                audit: AuditEvent(.userRegistered, userId: user.id)
            )
        } catch StoreError.duplicate(field: "email") {
            throw Accounts.emailTaken
        }
        core.outboxNudge.signal()
        core.metrics.registration()
        return user
    }

    /// Verifies with the link's token.
    public func verifyEmail(token: String) async throws {
        let now = Date()
        guard !token.isEmpty, token.utf8.count <= 256,
            let verification = try await core.store.verification(tokenHash: Secrets.sha256Hex(token)),
            verification.expiresAt > now
        else { throw Self.invalidVerification }
        try await core.store.completeVerification(userId: verification.userId)
    }

    /// Verifies with the 6-digit code mailed to `email`. Five wrong codes void the code.
    public func verifyEmail(email: String, code: String) async throws {
        let now = Date()
        guard let user = try await core.store.user(email: Validate.normalizedEmail(email)),
            let verification = try await core.store.verification(userId: user.id),
            verification.expiresAt > now, verification.attempts < EmailVerification.maxAttempts
        else { throw Self.invalidVerification }
        guard code.count == 6, code.allSatisfy(\.isASCII), code.allSatisfy(\.isNumber),
            Secrets.constantTimeEquals(EmailVerification.codeHash(userId: user.id, code: code), verification.codeHash)
        else {
            try await core.store.countVerificationAttempt(id: verification.id)
            throw Self.invalidVerification
        }
        try await core.store.completeVerification(userId: user.id)
    }

    /// Sends a new code and link (the old ones stop working); 429 with `Retry-After` past
    /// `policies.rateLimit.verificationMail`.
    public func sendNewVerification(for user: User, clientIP: String? = nil) async throws {
        guard !user.emailVerified else { throw Self.alreadyVerified }
        try await core.checkPolicies(PolicyInput(point: .verificationMail, clientIP: clientIP, email: user.email))
        let (verification, mail) = try accounts.verificationMail(for: user)
        try await core.store.replaceVerification(verification, mail: mail)
        core.outboxNudge.signal()
    }
}
