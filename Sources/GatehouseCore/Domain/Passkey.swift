import Foundation

/// A WebAuthn credential registered to an account: it signs the account in instead of a
/// password (Better Auth's passkey plugin).
public struct Passkey: Sendable, Equatable {
    public var id: String
    public var userId: String
    /// What the user called it (`null` until named).
    public var name: String?
    /// The credential's id, base64url without padding, as clients name it.
    public var credentialID: String
    /// The public key as the authenticator encoded it (a COSE_Key).
    public var publicKey: [UInt8]
    /// The authenticator's signature counter at the last sign-in (0 for those that keep none).
    public var counter: Int
    /// `multiDevice` when the credential may be synced (backup eligible), else `singleDevice`.
    public var deviceType: String
    public var backedUp: Bool
    /// How the client can reach the authenticator (`internal`, `usb`, `hybrid`, ...).
    public var transports: [String]
    /// The authenticator model's id, as a UUID (all zeros when not disclosed).
    public var aaguid: String
    public var createdAt: Date

    public init(
        id: String = Identifier.make(),
        userId: String,
        name: String?,
        credentialID: String,
        publicKey: [UInt8],
        counter: Int,
        deviceType: String,
        backedUp: Bool,
        transports: [String],
        aaguid: String,
        createdAt: Date = Date()
    ) {
        self.id = id
        self.userId = userId
        self.name = name
        self.credentialID = credentialID
        self.publicKey = publicKey
        self.counter = counter
        self.deviceType = deviceType
        self.backedUp = backedUp
        self.transports = transports
        self.aaguid = aaguid
        self.createdAt = createdAt
    }
}

/// A challenge handed out for one WebAuthn ceremony, kept by the hash of the token in the
/// client's cookie, used once.
public struct PasskeyChallenge: Sendable, Equatable {
    public enum Ceremony: String, Sendable, CaseIterable {
        case registration
        case authentication
    }

    public var tokenHash: String
    public var ceremony: Ceremony
    /// The challenge, base64url without padding, as the client data carries it back.
    public var challenge: String
    /// The account a registration is for; nil for a sign-in.
    public var userId: String?
    /// The client address a sign-in's challenge went to (they are bounded per address).
    public var source: String?
    public var expiresAt: Date

    public init(
        tokenHash: String,
        ceremony: Ceremony,
        challenge: String,
        userId: String?,
        source: String? = nil,
        expiresAt: Date
    ) {
        self.tokenHash = tokenHash
        self.ceremony = ceremony
        self.challenge = challenge
        self.userId = userId
        self.source = source
        self.expiresAt = expiresAt
    }
}

/// Where passkeys and their ceremonies' challenges are kept.
public protocol PasskeyStore: Sendable {
    /// Stores a challenge, after deleting the expired ones. A registration's replaces the
    /// account's earlier ones. A sign-in's is refused (false, nothing stored) when `perSource`
    /// sign-in challenges of its source, or `limit` in all, are waiting already.
    func insertPasskeyChallenge(_ challenge: PasskeyChallenge, perSource: Int, limit: Int, now: Date) async throws
        -> Bool
    /// Deletes the challenge of `tokenHash` and returns it, unless it has expired.
    func takePasskeyChallenge(tokenHash: String, now: Date) async throws -> PasskeyChallenge?
    /// Stores a new passkey with its audit event and notice, unless the user holds `limit`
    /// already (false); `StoreError.duplicate(field: "credentialID")` when it is registered.
    func insertPasskey(_ passkey: Passkey, limit: Int, audit: AuditEvent, mails: [OutboxMail]) async throws -> Bool
    /// The user's passkeys, oldest first.
    func passkeys(userId: String) async throws -> [Passkey]
    func passkey(credentialID: String) async throws -> Passkey?
    /// Moves the counter from `old` to `new`; false when it is no longer `old` (another
    /// sign-in with the same signature got there first).
    func advancePasskeyCounter(id: String, from old: Int, to new: Int, backedUp: Bool) async throws -> Bool
    /// Renames the user's passkey; nil when they have none of that id.
    func renamePasskey(id: String, userId: String, name: String) async throws -> Passkey?
    /// Deletes the user's passkey with its audit event; false when they have none of that id.
    func deletePasskey(id: String, userId: String, audit: AuditEvent) async throws -> Bool
}
