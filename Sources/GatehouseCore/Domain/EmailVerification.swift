import Foundation

/// A pending email verification: a link token and a 6-digit code, both stored only as hashes,
/// valid 24 hours, used once.
public struct EmailVerification: Sendable, Equatable {
    public var id: String
    public var userId: String
    /// SHA-256 of the link token.
    public var tokenHash: String
    /// SHA-256 of `userId:code`.
    public var codeHash: String
    public var expiresAt: Date
    /// Wrong codes tried so far; at `maxAttempts` the code stops working (the link still works).
    public var attempts: Int
    public var createdAt: Date

    public static let lifetime: TimeInterval = 24 * 3600
    public static let maxAttempts = 5

    /// A new verification for `userId`, with its token and code in clear (for the mail only).
    public static func make(userId: String, now: Date = Date()) -> (EmailVerification, token: String, code: String) {
        let token = Secrets.sessionToken()
        var generator = SystemRandomNumberGenerator()
        let code = String(format: "%06d", Int.random(in: 0..<1_000_000, using: &generator))
        let verification = EmailVerification(
            id: Identifier.make(now: now),
            userId: userId,
            tokenHash: Secrets.sha256Hex(token),
            codeHash: codeHash(userId: userId, code: code),
            expiresAt: now.addingTimeInterval(lifetime),
            attempts: 0,
            createdAt: now
        )
        return (verification, token, code)
    }

    public static func codeHash(userId: String, code: String) -> String {
        Secrets.sha256Hex("\(userId):\(code)")
    }

    public init(
        id: String,
        userId: String,
        tokenHash: String,
        codeHash: String,
        expiresAt: Date,
        attempts: Int,
        createdAt: Date
    ) {
        self.id = id
        self.userId = userId
        self.tokenHash = tokenHash
        self.codeHash = codeHash
        self.expiresAt = expiresAt
        self.attempts = attempts
        self.createdAt = createdAt
    }
}

/// Email verifications, as the account services reach them.
public protocol VerificationStore: Sendable {
    /// Stores a new user, their verification, its mail and the audit event in one transaction.
    func createAccount(_ user: User, verification: EmailVerification, mail: OutboxMail, audit: AuditEvent)
        async throws
    /// Replaces the user's verifications with a new one and queues its mail, in one transaction.
    func replaceVerification(_ verification: EmailVerification, mail: OutboxMail) async throws
    func verification(tokenHash: String) async throws -> EmailVerification?
    func verification(userId: String) async throws -> EmailVerification?
    func countVerificationAttempt(id: String) async throws
    /// Marks the user's email verified and deletes their verifications, in one transaction.
    func completeVerification(userId: String) async throws
}
