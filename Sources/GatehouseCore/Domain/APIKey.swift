import Foundation

/// An API key. Only the SHA-256 of the key is stored; the key itself is shown once, at creation.
public struct APIKey: Sendable, Equatable {
    public var id: String
    public var userId: String
    public var name: String
    /// The key's first 10 characters (`gk_` and 7 more), to tell keys apart in lists.
    public var prefix: String
    public var keyHash: String
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var expiresAt: Date?

    public init(
        id: String = Identifier.make(),
        userId: String,
        name: String,
        prefix: String,
        keyHash: String,
        createdAt: Date,
        lastUsedAt: Date? = nil,
        expiresAt: Date? = nil
    ) {
        self.id = id
        self.userId = userId
        self.name = name
        self.prefix = prefix
        self.keyHash = keyHash
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.expiresAt = expiresAt
    }

    /// Every key starts with this, which tells it from a session token.
    public static let marker = "gk_"
}

/// An SSH public key on an account.
public struct SSHKey: Sendable, Equatable {
    public var id: String
    public var userId: String
    public var name: String
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, ...
    public var type: String
    /// `SHA256:` + unpadded base64 of the SHA-256 of the key blob, as `ssh-keygen -lf` prints it.
    public var fingerprint: String
    /// The key line as stored: type, base64 blob, and comment when there was one.
    public var publicKey: String
    public var createdAt: Date

    public init(
        id: String = Identifier.make(),
        userId: String,
        name: String,
        type: String,
        fingerprint: String,
        publicKey: String,
        createdAt: Date
    ) {
        self.id = id
        self.userId = userId
        self.name = name
        self.type = type
        self.fingerprint = fingerprint
        self.publicKey = publicKey
        self.createdAt = createdAt
    }
}

/// API keys and SSH keys, as the credential services reach them.
public protocol CredentialStore: Sendable {
    /// Inserts a key unless the user already holds `maxPerUser`; false when at the limit. The
    /// count, the insert, the audit event and the owner's notice are one transaction.
    func insertAPIKey(_ key: APIKey, maxPerUser: Int, audit: AuditEvent, mails: [OutboxMail]) async throws -> Bool
    /// A user's keys, newest first.
    func apiKeys(userId: String) async throws -> [APIKey]
    /// Deletes one of a user's keys; false when it is not theirs or not there.
    func deleteAPIKey(id: String, userId: String, audit: AuditEvent) async throws -> Bool
    /// The unexpired key with this hash, and its user.
    func apiKey(keyHash: String, now: Date) async throws -> (APIKey, User)?
    /// Records a use of the key (coalesced by the caller).
    func touchAPIKey(id: String, userId: String, at: Date) async throws

    /// Inserts an SSH key; throws `StoreError.duplicate(field: "fingerprint")` when the user
    /// already has it, or (with `uniqueAcrossUsers`) anyone has. The owner's notice is queued in
    /// the same transaction.
    func insertSSHKey(_ key: SSHKey, uniqueAcrossUsers: Bool, audit: AuditEvent, mails: [OutboxMail]) async throws
    /// A user's SSH keys, newest first.
    func sshKeys(userId: String) async throws -> [SSHKey]
    func deleteSSHKey(id: String, userId: String, audit: AuditEvent) async throws -> Bool
}
