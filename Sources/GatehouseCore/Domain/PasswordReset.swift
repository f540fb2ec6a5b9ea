import Foundation

/// A password reset: a link token stored only as its SHA-256, valid one hour, used once.
public struct PasswordReset: Sendable, Equatable {
    public var id: String
    public var userId: String
    public var tokenHash: String
    public var expiresAt: Date
    public var createdAt: Date

    public static let lifetime: TimeInterval = 3600

    /// A new reset for `userId`, with its token in clear (for the mail only).
    public static func make(userId: String, now: Date = Date()) -> (PasswordReset, token: String) {
        let token = Secrets.sessionToken()
        let reset = PasswordReset(
            id: Identifier.make(now: now),
            userId: userId,
            tokenHash: Secrets.sha256Hex(token),
            expiresAt: now.addingTimeInterval(lifetime),
            createdAt: now
        )
        return (reset, token)
    }

    public init(id: String, userId: String, tokenHash: String, expiresAt: Date, createdAt: Date) {
        self.id = id
        self.userId = userId
        self.tokenHash = tokenHash
        self.expiresAt = expiresAt
        self.createdAt = createdAt
    }
}

/// Password resets, as the account services reach them.
public protocol PasswordResetStore: Sendable {
    /// Stores a reset, queues its mail and records the audit event in one transaction.
    func createPasswordReset(_ reset: PasswordReset, mail: OutboxMail, audit: AuditEvent) async throws
    func passwordReset(tokenHash: String) async throws -> PasswordReset?
    /// Sets the user's password hash, ends all their sessions, deletes their resets and their
    /// API keys (account recovery: a key minted by whoever held the account goes too) and queues
    /// the notice and the audit event, in one transaction.
    func completePasswordReset(userId: String, passwordHash: String, notice: OutboxMail, audit: AuditEvent)
        async throws
}
