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
    public static let twoFactorNotEnabled = GatehouseError.badRequest("Two-factor authentication is not enabled")
    public static let twoFactorNotSetUp = GatehouseError.badRequest(
        "Two-factor setup has not been started: call /api/auth/2fa/setup first"
    )
    public static let invalidTwoFactorCode = GatehouseError.badRequest("Invalid two-factor code")

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
            )
        )
        return TwoFactorSetup(
            secret: Base32.encode(secret),
            otpauthUrl: TOTP(secret: secret).provisioningURL(
                account: user.email,
                issuer: core.settings.mail.productName
            )
        )
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
    /// toward the sign-in lockout. The owner is mailed.
    public func disableTwoFactor(for user: User, password: String, code: String) async throws {
        guard user.twoFactorEnabled else { throw Self.twoFactorNotEnabled }
        guard try await accounts.confirmPassword(password, of: user, reason: "password") else {
            throw Accounts.wrongCurrentPassword
        }
        try await core.checkPolicies(PolicyInput(point: .credentialCheck, email: user.email))
        let notice = try accounts.mail(
            "two-factor-disabled",
            to: user.email,
            subject: "Two-factor authentication was turned off for your \(core.settings.mail.productName) account",
            values: accounts.noticeValues([:])
        )
        guard let proof = try await accounts.twoFactorProof(code, for: user),
            try await core.store.disableTwoFactor(
                userId: user.id,
                proof: proof,
                audit: AuditEvent(.twoFactorDisabled, userId: user.id, detail: ["method": .string(proof.method)]),
                mails: [notice]
            )
        else {
            await accounts.recordLoginFailure(email: user.email, userId: user.id, reason: "twoFactor")
            throw Self.invalidTwoFactorCode
        }
        await core.recordPolicyEvent(.credentialPassed(email: user.email))
        core.outboxNudge.signal()
    }

    /// A TOTP code as typed: spaces dropped ("123 456").
    static func digits(_ code: String) -> String { code.filter { $0 != " " } }
}
