import Foundation

/// What went wrong in the store in a way a service must handle.
public enum StoreError: Error, Equatable, Sendable {
    /// A unique constraint refused the write; `field` names the column.
    case duplicate(field: String)
    /// The row to change does not exist.
    case notFound
    /// The write would leave no rootAdmin.
    case lastRootAdmin
    /// A stored value this version does not know (`column`, `value`): the row is not read as
    /// something it is not (an unknown role as `user`, an unknown mail status as `pending`).
    case unknownValue(column: String, value: String)
}

/// Users, as the core services reach them. Implemented by GatehouseStore (SQLite).
public protocol UserStore: Sendable {
    /// Inserts a user and its audit event; throws `StoreError.duplicate(field: "email")` for a
    /// taken email.
    func insertUser(_ user: User, audit: [AuditEvent]) async throws
    /// Replaces a stored user's fields; throws `StoreError.notFound` when it is gone, and
    /// `StoreError.duplicate(field: "email")` for a taken email.
    func updateUser(_ user: User) async throws
    func user(id: String) async throws -> User?
    /// Looks up by email, case-insensitively.
    func user(email: String) async throws -> User?
    func userCount() async throws -> Int
    /// How many users hold `role`.
    func count(role: Role) async throws -> Int
    /// Writes an account change (user, sessions to end, verification, mails) in one transaction.
    func applyAccountChange(_ change: AccountChange) async throws
}

/// Login sessions, looked up by the SHA-256 of their token.
public protocol SessionStore: Sendable {
    /// Inserts a session and, in the same transaction, deletes the user's oldest sessions beyond
    /// `keepAtMost`; the audit events go in the same transaction.
    func insertSession(_ session: Session, keepAtMost: Int, audit: [AuditEvent], mails: [OutboxMail]) async throws
    /// The unexpired session with this token hash, and its user.
    func session(tokenHash: String, now: Date) async throws -> (Session, User)?
    /// Slides a session's expiry.
    func touchSession(id: String, userId: String, lastSeenAt: Date, expiresAt: Date) async throws
    func sessions(userId: String, now: Date) async throws -> [Session]
    /// The unexpired session with this id, whoever's it is.
    func session(id: String, now: Date) async throws -> Session?
    /// Deletes one session of a user; false when there was none.
    @discardableResult func deleteSession(id: String, userId: String, audit: [AuditEvent]) async throws -> Bool
    /// Deletes every session of a user except `keeping`; returns how many went.
    @discardableResult func deleteSessions(userId: String, keeping: String?, audit: [AuditEvent]) async throws -> Int
    /// Deletes expired sessions; returns how many went.
    @discardableResult func deleteExpiredSessions(now: Date) async throws -> Int
}

/// The whole store: every protocol above, plus health and schema.
public protocol GatehouseStore: UserStore, SessionStore, OutboxStore, VerificationStore,
    PasswordResetStore, TwoFactorStore, AuditStore, CredentialStore, ServerStore, EmailChangeStore, PasskeyStore
{
    /// Brings the schema up to date.
    func migrate() async throws
    /// Names of the migrations applied so far, in order.
    func appliedMigrations() async throws -> [String]
    /// Throws unless the database answers a query.
    func ping() async throws
    /// Closes the database at shutdown, everything written in its main file.
    func close() async throws
    /// Rate-limit counters every process on this store shares (PostgreSQL); nil when the store
    /// belongs to one process, which keeps them in memory (SQLite).
    var sharedRateLimits: (any RateLimitStore)? { get }
}

extension GatehouseStore {
    public var sharedRateLimits: (any RateLimitStore)? { nil }
}

extension UserStore {
    public func insertUser(_ user: User) async throws { try await insertUser(user, audit: []) }
}

extension SessionStore {
    public func insertSession(_ session: Session, keepAtMost: Int) async throws {
        try await insertSession(session, keepAtMost: keepAtMost, audit: [], mails: [])
    }
    @discardableResult public func deleteSession(id: String, userId: String) async throws -> Bool {
        try await deleteSession(id: id, userId: userId, audit: [])
    }
    @discardableResult public func deleteSessions(userId: String, keeping: String?) async throws -> Int {
        try await deleteSessions(userId: userId, keeping: keeping, audit: [])
    }
}
