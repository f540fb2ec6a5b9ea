import Foundation

/// Single-use backup codes: 10 characters from an alphabet without look-alikes (50 bits),
/// shown as `XXXXX-XXXXX`, stored as a keyed hash.
public enum BackupCodes {
    static let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    public static let count = 10

    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let characters = (0..<10).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
        return String(characters[0..<5]) + "-" + String(characters[5...])
    }

    /// The form that is hashed: upper case, without dashes and spaces.
    public static func normalized(_ code: String) -> String {
        code.uppercased().filter { $0 != "-" && $0 != " " }
    }
}

/// What `setUpTwoFactor` hands the client: the secret, once, for the authenticator app.
public struct TwoFactorSetup: Sendable {
    public var secret: String
    public var otpauthUrl: String
}

/// Turning two-factor sign-in on and off.
public struct TwoFactor: Sendable {
    let core: Core
    /// The account rules these build on (password checks, audit rows, mails).
    var accounts: Accounts { core.accounts }
    public static let twoFactorAlreadyEnabled = GatehouseError.badRequest(
        "Two-factor authentication is already enabled"
    )
    public static let twoFactorNotEnabled = GatehouseError(
        .badRequest,
        "Two-factor authentication is not enabled",
        code: .twoFactorNotEnabled
    )
    public static let twoFactorNotSetUp = GatehouseError(
        .badRequest,
        "Two-factor setup has not been started: call /api/auth/2fa/setup first",
        code: .twoFactorNotSetUp
    )
    public static let invalidTwoFactorCode = GatehouseError(.badRequest, "Invalid two-factor code", code: .invalidCode)

    /// A new TOTP secret, stored sealed and pending until `enableTwoFactor` proves the app has
    /// it. Calling it again replaces the pending secret. The secret is never shown again.
    public func setUpTwoFactor(for user: User) async throws -> TwoFactorSetup {
        guard !user.twoFactorEnabled else { throw Self.twoFactorAlreadyEnabled }
        let secret = TOTP.newSecret()
        try await core.store.savePendingTwoFactor(
            TwoFactorSecret(
                userId: user.id,
                sealedSecret: try core.secretKey.seal(secret),
                enabled: false,
                lastUsedStep: nil,
                createdAt: Date()
            ),
            backupCodeHashes: []
        )
        return TwoFactorSetup(secret: Base32.encode(secret), otpauthUrl: provisioningURL(secret, for: user))
    }

    func provisioningURL(_ secret: [UInt8], for user: User) -> String {
        TOTP(secret: secret).provisioningURL(account: user.email, issuer: core.settings.mail.productName)
    }

    /// Setup in one step, as some client libraries do it: after the password, a new
    /// pending secret and its 10 backup codes, both shown now; 2FA turns on when a code from the
    /// secret confirms it (`confirmTwoFactor`).
    public func startTwoFactor(for user: User, password: String) async throws -> (uri: String, backupCodes: [String]) {
        guard try await accounts.confirmPassword(password, of: user, reason: "password") else {
            throw Accounts.wrongCurrentPassword
        }
        guard !user.twoFactorEnabled else { throw Self.twoFactorAlreadyEnabled }
        let secret = TOTP.newSecret()
        let codes = (0..<BackupCodes.count).map { _ in BackupCodes.make() }
        try await core.store.savePendingTwoFactor(
            TwoFactorSecret(
                userId: user.id,
                sealedSecret: try core.secretKey.seal(secret),
                enabled: false,
                lastUsedStep: nil,
                createdAt: Date()
            ),
            backupCodeHashes: codes.map { core.secretKey.hash(BackupCodes.normalized($0)) }
        )
        return (provisioningURL(secret, for: user), codes)
    }

    /// Turns on the 2FA `startTwoFactor` began, with a code from its secret; the backup codes
    /// are those shown then. When 2FA is on already the code is only checked (false: nothing
    /// changed).
    public func confirmTwoFactor(for user: User, code: String) async throws -> Bool {
        if user.twoFactorEnabled {
            guard case .totp? = try await accounts.twoFactorProof(code, for: user) else {
                throw Self.invalidTwoFactorCode
            }
            return false
        }
        // Only a secret `startTwoFactor` made, after the password, is confirmed here: it alone
        // is stored with backup codes. One from `setUpTwoFactor` needs the password at
        // `enableTwoFactor`, so a stolen session cannot bind its holder's authenticator.
        guard let stored = try await core.store.twoFactorSecret(userId: user.id), !stored.enabled,
            let secret = core.secretKey.open(stored.sealedSecret),
            try await core.store.unusedBackupCodeCount(userId: user.id) > 0
        else { throw Self.twoFactorNotSetUp }
        try await core.checkPolicies(PolicyInput(point: .credentialCheck, email: user.email))
        guard let step = TOTP(secret: secret).matchingStep(Self.digits(code), at: Date()) else {
            await accounts.recordLoginFailure(email: user.email, userId: user.id, reason: "twoFactor")
            throw Self.invalidTwoFactorCode
        }
        await core.recordPolicyEvent(.credentialPassed(email: user.email))
        guard
            try await core.store.enableTwoFactor(
                userId: user.id,
                step: step,
                backupCodeHashes: nil,
                audit: AuditEvent(.twoFactorEnabled, userId: user.id)
            )
        else { throw Self.twoFactorAlreadyEnabled }
        return true
    }

    /// The authenticator URI of the account's secret (on, or pending), after the password.
    public func provisioningURL(for user: User, password: String) async throws -> String {
        guard let stored = try await core.store.twoFactorSecret(userId: user.id),
            let secret = core.secretKey.open(stored.sealedSecret)
        else { throw Self.twoFactorNotSetUp }
        guard try await accounts.confirmPassword(password, of: user, reason: "password") else {
            throw Accounts.wrongCurrentPassword
        }
        return provisioningURL(secret, for: user)
    }

    /// 10 new backup codes in place of the old ones, after the password.
    public func regenerateBackupCodes(for user: User, password: String) async throws -> [String] {
        guard user.twoFactorEnabled else { throw Self.twoFactorNotEnabled }
        guard try await accounts.confirmPassword(password, of: user, reason: "password") else {
            throw Accounts.wrongCurrentPassword
        }
        let codes = (0..<BackupCodes.count).map { _ in BackupCodes.make() }
        guard
            try await core.store.replaceBackupCodes(
                userId: user.id,
                hashes: codes.map { core.secretKey.hash(BackupCodes.normalized($0)) }
            )
        else { throw Self.twoFactorNotEnabled }
        return codes
    }

    /// Turns 2FA on with a code from the pending secret; returns the 10 backup codes, shown
    /// only now. Needs the account's password too (counted toward the lockout), so a stolen
    /// session cannot bind its holder's authenticator to the account.
    public func enableTwoFactor(for user: User, code: String, password: String) async throws -> [String] {
        guard !user.twoFactorEnabled else { throw Self.twoFactorAlreadyEnabled }
        guard try await accounts.confirmPassword(password, of: user, reason: "password") else {
            throw Accounts.wrongCurrentPassword
        }
        guard let stored = try await core.store.twoFactorSecret(userId: user.id), !stored.enabled,
            let secret = core.secretKey.open(stored.sealedSecret)
        else { throw Self.twoFactorNotSetUp }
        guard let step = TOTP(secret: secret).matchingStep(Self.digits(code), at: Date()) else {
            throw Self.invalidTwoFactorCode
        }
        let codes = (0..<BackupCodes.count).map { _ in BackupCodes.make() }
        guard
            try await core.store.enableTwoFactor(
                userId: user.id,
                step: step,
                backupCodeHashes: codes.map { core.secretKey.hash(BackupCodes.normalized($0)) },
                audit: AuditEvent(.twoFactorEnabled, userId: user.id)
            )
        else { throw Self.twoFactorAlreadyEnabled }
        return codes
    }

    /// Turns 2FA off; needs the password and a current code (or a backup code), each counted
    /// toward the sign-in lockout; `code` nil: the password alone (for a surface whose clients
    /// ask no more). The owner is mailed either way.
    public func disableTwoFactor(for user: User, password: String, code: String?) async throws {
        guard user.twoFactorEnabled else { throw Self.twoFactorNotEnabled }
        guard try await accounts.confirmPassword(password, of: user, reason: "password") else {
            throw Accounts.wrongCurrentPassword
        }
        guard let code else {
            try await turnOff(user, proof: nil)
            return
        }
        try await core.checkPolicies(PolicyInput(point: .credentialCheck, email: user.email))
        guard let proof = try await accounts.twoFactorProof(code, for: user) else {
            await accounts.recordLoginFailure(email: user.email, userId: user.id, reason: "twoFactor")
            throw Self.invalidTwoFactorCode
        }
        do {
            try await turnOff(user, proof: proof)
        } catch let error as GatehouseError where error.code == .invalidCode {
            await accounts.recordLoginFailure(email: user.email, userId: user.id, reason: "twoFactor")
            throw error
        }
        await core.recordPolicyEvent(.credentialPassed(email: user.email))
    }

    /// Spends `proof` and turns 2FA off, mailing the owner.
    func turnOff(_ user: User, proof: TwoFactorProof?) async throws {
        let notice = try accounts.mail(
            "two-factor-disabled",
            to: user.email,
            subject: "Two-factor authentication was turned off for your \(core.settings.mail.productName) account",
            values: accounts.noticeValues([:])
        )
        guard
            try await core.store.disableTwoFactor(
                userId: user.id,
                proof: proof,
                audit: AuditEvent(
                    .twoFactorDisabled,
                    userId: user.id,
                    detail: ["method": .string(proof?.method ?? "password")]
                ),
                mails: [notice]
            )
        else { throw proof == nil ? Self.twoFactorNotEnabled : Self.invalidTwoFactorCode }
        core.outboxNudge.signal()
    }

    /// A TOTP code as typed: spaces dropped ("123 456").
    static func digits(_ code: String) -> String { code.filter { $0 != " " } }
}
