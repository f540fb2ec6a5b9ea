import Foundation

/// A security event, written in the same transaction as the change it records.
public struct AuditEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case userRegistered = "user.registered"
        case userCreated = "user.created"
        case loginSucceeded = "login.succeeded"
        case loginFailed = "login.failed"
        case loginLocked = "login.locked"
        case twoFactorEnabled = "twoFactor.enabled"
        case twoFactorDisabled = "twoFactor.disabled"
        case passwordChanged = "password.changed"
        case passwordReset = "password.reset"
        case emailChanged = "email.changed"
        case sessionRevoked = "session.revoked"
        case sessionsRevoked = "sessions.revoked"
        case roleChanged = "user.roleChanged"
        case suspensionChanged = "user.suspensionChanged"
        case userDeleted = "user.deleted"
        case apiKeyCreated = "apiKey.created"
        case apiKeyDeleted = "apiKey.deleted"
        case sshKeyAdded = "sshKey.added"
        case sshKeyDeleted = "sshKey.deleted"
        case passwordResetRequested = "password.resetRequested"
        case impersonationStarted = "impersonation.started"
        case impersonationStopped = "impersonation.stopped"
        case passkeyAdded = "passkey.added"
        case passkeyDeleted = "passkey.deleted"
        case mailRetried = "mail.retried"
    }

    public var id: String
    public var kind: Kind
    /// The account the event is about; nil when there is none (a sign-in for an unknown email).
    public var userId: String?
    /// Who did it, when that is not the account itself (an admin).
    public var actorId: String?
    /// The client's address, when the event came from a request.
    public var ip: String?
    /// Facts of the event (`{"from": "user", "to": "admin"}`); never a secret.
    public var detail: [String: JSONValue]
    public var createdAt: Date

    public init(
        _ kind: Kind,
        userId: String?,
        actorId: String? = nil,
        ip: String? = AuditEvent.clientIP,
        detail: [String: JSONValue] = [:],
        at createdAt: Date = Date()
    ) {
        self.id = Identifier.make(now: createdAt)
        self.kind = kind
        self.userId = userId
        self.actorId = actorId
        self.ip = ip
        self.detail = detail
        self.createdAt = createdAt
    }

    /// The address of the client whose request is being served; the host sets it for each
    /// request, so services need not pass it down to every event they record.
    @TaskLocal public static var clientIP: String?
}

/// Where audit events are kept.
public protocol AuditStore: Sendable {
    /// Records an event that goes with no other write (a failed sign-in).
    func recordAudit(_ event: AuditEvent) async throws
    /// The newest events first, of one account or of all.
    func auditEvents(userId: String?, limit: Int) async throws -> [AuditEvent]
    /// The newest events first that `query` picks, older than its `before` (keyset pagination).
    func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent]
    /// Deletes the events recorded before `cutoff` (`audit.retentionDays`); returns how many.
    @discardableResult func deleteAuditEvents(before cutoff: Date) async throws -> Int
}

/// Which audit events an admin asks for: by account, kind and actor, a page of `limit` older
/// than the event `before`.
public struct AuditQuery: Sendable, Equatable {
    public var userId: String?
    public var kind: AuditEvent.Kind?
    public var actorId: String?
    public var before: String?
    public var limit: Int

    public init(
        userId: String? = nil,
        kind: AuditEvent.Kind? = nil,
        actorId: String? = nil,
        before: String? = nil,
        limit: Int = 50
    ) {
        self.userId = userId
        self.kind = kind
        self.actorId = actorId
        self.before = before
        self.limit = limit
    }
}
