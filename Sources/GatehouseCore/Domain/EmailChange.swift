import Foundation

/// A change of address asked for without the password (`EmailChanges`): a link
/// token, stored only as its SHA-256, valid one hour, used once. A verified account's change is
/// first confirmed from the old address (`confirm`), then proven from the new one (`verify`),
/// which makes it; an unverified account's needs only the second step.
public struct EmailChange: Sendable, Equatable {
    public enum Stage: String, Sendable {
        /// The link went to the old address.
        case confirm
        /// The link went to the new address.
        case verify
    }

    public var tokenHash: String
    public var userId: String
    public var newEmail: String
    public var stage: Stage
    public var expiresAt: Date

    public static let lifetime: TimeInterval = 3600

    /// A new step for `userId`, with its token in clear (for the mail only).
    public static func make(userId: String, newEmail: String, stage: Stage, now: Date = Date())
        -> (EmailChange, token: String)
    {
        let token = Secrets.sessionToken()
        let change = EmailChange(
            tokenHash: Secrets.sha256Hex(token),
            userId: userId,
            newEmail: newEmail,
            stage: stage,
            expiresAt: now.addingTimeInterval(lifetime)
        )
        return (change, token)
    }

    public init(tokenHash: String, userId: String, newEmail: String, stage: Stage, expiresAt: Date) {
        self.tokenHash = tokenHash
        self.userId = userId
        self.newEmail = newEmail
        self.stage = stage
        self.expiresAt = expiresAt
    }
}

/// Email changes, as the account services reach them.
public protocol EmailChangeStore: Sendable {
    /// Stores a step (the user's earlier ones go) and queues its mail, in one transaction.
    func saveEmailChange(_ change: EmailChange, mail: OutboxMail) async throws
    /// Takes the unexpired step with this token hash (it is used up).
    func takeEmailChange(tokenHash: String, now: Date) async throws -> EmailChange?
}
