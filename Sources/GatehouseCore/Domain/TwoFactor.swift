import Foundation

/// A user's TOTP secret, sealed with the server key. `enabled` is false between setup and the
/// first code that proves the authenticator has it.
public struct TwoFactorSecret: Sendable, Equatable {
    public var userId: String
    /// `SecretKey.seal` of the raw secret; the clear secret is never stored.
    public var sealedSecret: String
    public var enabled: Bool
    /// The newest time step a code was accepted for; a code is only good for a later step.
    public var lastUsedStep: Int64?
    public var createdAt: Date

    public init(userId: String, sealedSecret: String, enabled: Bool, lastUsedStep: Int64?, createdAt: Date) {
        self.userId = userId
        self.sealedSecret = sealedSecret
        self.enabled = enabled
        self.lastUsedStep = lastUsedStep
        self.createdAt = createdAt
    }
}

/// The second step of a sign-in: the password was right, a code is still owed.
public struct LoginChallenge: Sendable, Equatable {
    public var id: String
    public var userId: String
    /// SHA-256 of the temp token handed to the client.
    public var tokenHash: String
    public var expiresAt: Date
    /// Wrong codes so far.
    public var attempts: Int
    public var createdAt: Date

    public init(
        id: String = Identifier.make(),
        userId: String,
        tokenHash: String,
        expiresAt: Date,
        attempts: Int = 0,
        createdAt: Date = Date()
    ) {
        self.id = id
        self.userId = userId
        self.tokenHash = tokenHash
        self.expiresAt = expiresAt
        self.attempts = attempts
        self.createdAt = createdAt
    }
}

/// What proves the second factor: a TOTP code's time step, or a backup code's keyed hash.
/// Each is good once: the store accepts a step only above the last one used, and a backup
/// code only while it is unused.
public enum TwoFactorProof: Sendable, Equatable {
    case totp(step: Int64)
    case backupCode(hash: String)
    /// The code mailed for this sign-in's challenge (good once: it goes with the challenge).
    case mailedCode

    public var method: String {
        switch self {
        case .totp: "totp"
        case .backupCode: "backupCode"
        case .mailedCode: "mailedCode"
        }
    }
}

/// TOTP secrets, backup codes and sign-in challenges.
public protocol TwoFactorStore: Sendable {
    func twoFactorSecret(userId: String) async throws -> TwoFactorSecret?
    /// Stores a secret awaiting its first code, replacing an earlier one not yet enabled, with
    /// the hashes of the backup codes shown with it (none: they come with `enableTwoFactor`).
    func savePendingTwoFactor(_ secret: TwoFactorSecret, backupCodeHashes: [String]) async throws
    /// Turns 2FA on with the step of the code that proved it and the backup codes' hashes
    /// (replacing any older ones; nil keeps those stored with the pending secret); false when it
    /// was enabled meanwhile or the secret is gone.
    func enableTwoFactor(userId: String, step: Int64, backupCodeHashes: [String]?, audit: AuditEvent) async throws
        -> Bool
    /// Spends `proof` (nil: the password alone was asked for) and turns 2FA off (secret, backup
    /// codes and challenges deleted); false when the proof was already spent or 2FA was off.
    /// The owner's notice is queued in the same transaction.
    func disableTwoFactor(userId: String, proof: TwoFactorProof?, audit: AuditEvent, mails: [OutboxMail])
        async throws -> Bool
    /// Stores the hash of a code mailed for a sign-in's challenge (replacing an earlier one) and
    /// queues its mail, in one transaction; false when the challenge is gone.
    func saveLoginCode(challengeId: String, codeHash: String, expiresAt: Date, mail: OutboxMail) async throws -> Bool
    /// The mailed code of a challenge: its hash and when it ends.
    func loginCode(challengeId: String) async throws -> (codeHash: String, expiresAt: Date)?
    /// Remembers a browser that may skip the second factor of `userId` until `expiresAt`.
    func trustDevice(tokenHash: String, userId: String, expiresAt: Date) async throws
    /// Uses up a trusted browser's token: true when it was `userId`'s and unexpired. (Each use
    /// is followed by a new token.) A password change or reset, a suspension or 2FA turned off
    /// forgets the account's trusted browsers, pending sign-ins and changes of address.
    func takeTrustedDevice(tokenHash: String, userId: String, now: Date) async throws -> Bool
    /// Replaces the backup codes of an account with 2FA on; false when it is off.
    func replaceBackupCodes(userId: String, hashes: [String]) async throws -> Bool
    /// Backup codes not yet used.
    func unusedBackupCodeCount(userId: String) async throws -> Int

    func insertLoginChallenge(_ challenge: LoginChallenge) async throws
    /// The unexpired challenge with this token hash.
    func loginChallenge(tokenHash: String, now: Date) async throws -> LoginChallenge?
    /// Counts a wrong code; the challenge is deleted when it reaches `maxAttempts`.
    func failLoginChallenge(id: String, maxAttempts: Int) async throws
    /// Spends `proof`, deletes the challenge and starts `session`, all or nothing; false when
    /// the proof or the challenge was already spent.
    func completeLoginChallenge(
        id: String,
        proof: TwoFactorProof,
        session: Session,
        keepAtMost: Int,
        audit: AuditEvent,
        mails: [OutboxMail]
    ) async throws -> Bool
}
