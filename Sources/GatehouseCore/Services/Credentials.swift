import Foundation

/// The limits a route module that issues keys sets (from its own config section).
public struct CredentialRules: Sendable, Equatable {
    /// API keys one user may hold.
    public var apiKeysPerUser: Int
    /// One SSH key may be on one account only (else: once per account).
    public var sshKeysUniqueAcrossUsers: Bool
    public var sshMinimumRSABits: Int

    public init(apiKeysPerUser: Int, sshKeysUniqueAcrossUsers: Bool, sshMinimumRSABits: Int) {
        self.apiKeysPerUser = apiKeysPerUser
        self.sshKeysUniqueAcrossUsers = sshKeysUniqueAcrossUsers
        self.sshMinimumRSABits = sshMinimumRSABits
    }
}

/// API keys and SSH keys: creation rules, lookup, deletion. Route modules call these.
public struct Credentials: Sendable {
    let core: Core

    public static let keyNotFound = GatehouseError.notFound("API key not found")
    public static let sshKeyNotFound = GatehouseError.notFound("SSH key not found")
    public static let sshKeyTaken = GatehouseError(.conflict, "This SSH key has already been added")

    /// How often a key's `lastUsedAt` is written at most: a busy key is not a write per request.
    public static let touchInterval: TimeInterval = 60

    // MARK: API keys

    /// A new key for the caller, who must be signed in with a session. Returns the stored key
    /// and the key itself, which is shown this once.
    public func createAPIKey(by principal: Principal, name: String, expiresAt: String?, rules: CredentialRules)
        async throws -> (
            APIKey, secret: String
        )
    {
        guard principal.sessionId != nil else { throw GatehouseError.requiresSession }
        try principal.requireNotImpersonated()
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        var issues: [FieldIssue] = []
        if let issue = Validate.name(name, field: "name") { issues.append(issue) }
        var expiry: Date?
        if let expiresAt {
            if let date = Timestamp.parse(expiresAt) {
                if date > Date() {
                    expiry = date
                } else {
                    issues.append(FieldIssue(field: "expiresAt", message: "must be in the future"))
                }
            } else {
                issues.append(FieldIssue(field: "expiresAt", message: "must be an ISO 8601 date and time"))
            }
        }
        guard issues.isEmpty else { throw GatehouseError.validation(issues) }

        let secret = APIKey.marker + Secrets.sessionToken()
        let key = APIKey(
            userId: principal.user.id,
            name: name,
            prefix: String(secret.prefix(10)),
            keyHash: Secrets.sha256Hex(secret),
            createdAt: Date(),
            expiresAt: expiry
        )
        let limit = rules.apiKeysPerUser
        guard
            try await core.store.insertAPIKey(
                key,
                maxPerUser: limit,
                audit: AuditEvent(.apiKeyCreated, userId: key.userId, detail: ["keyId": .string(key.id)]),
                mails: [
                    try notice(
                        "api-key-created",
                        to: principal.user,
                        subject: "A new API key was created for your account",
                        values: ["name": key.name, "prefix": key.prefix]
                    )
                ]
            )
        else {
            throw GatehouseError.badRequest("API key limit reached: at most \(limit) keys per user")
        }
        core.outboxNudge.signal()
        return (key, secret)
    }

    public func apiKeys(userId: String) async throws -> [APIKey] {
        try await core.store.apiKeys(userId: userId)
    }

    public func deleteAPIKey(id: String, by principal: Principal) async throws {
        guard
            try await core.store.deleteAPIKey(
                id: id,
                userId: principal.user.id,
                audit: AuditEvent(.apiKeyDeleted, userId: principal.user.id, detail: ["keyId": .string(id)])
            )
        else { throw Self.keyNotFound }
    }

    /// The key's record and user, for a key presented by a client; nil when unknown, deleted or
    /// expired. Its last use is written at most once per `touchInterval`.
    public func resolveAPIKey(_ secret: String) async throws -> (APIKey, User)? {
        guard secret.hasPrefix(APIKey.marker), secret.utf8.count <= 256 else { return nil }
        let now = Date()
        guard var (key, user) = try await core.store.apiKey(keyHash: Secrets.sha256Hex(secret), now: now) else {
            return nil
        }
        if key.lastUsedAt.map({ now.timeIntervalSince($0) >= Self.touchInterval }) ?? true {
            key.lastUsedAt = now
            try await core.store.touchAPIKey(id: key.id, userId: key.userId, at: now)
        }
        return (key, user)
    }

    // MARK: SSH keys

    /// Adds a public key to the caller's account. `name` defaults to the key's comment.
    public func addSSHKey(by principal: Principal, name: String?, publicKey: String, rules: CredentialRules)
        async throws -> SSHKey
    {
        try principal.requireNotImpersonated()
        let parsed: SSHPublicKey
        do {
            parsed = try SSHPublicKey.parse(publicKey, minimumRSABits: rules.sshMinimumRSABits)
        } catch {
            throw GatehouseError.validation(field: "publicKey", error.message)
        }
        let label = (name ?? parsed.comment ?? parsed.type).trimmingCharacters(in: .whitespacesAndNewlines)
        if let issue = Validate.name(label, field: "name") { throw GatehouseError.validation([issue]) }
        let key = SSHKey(
            userId: principal.user.id,
            name: label,
            type: parsed.type,
            fingerprint: parsed.fingerprint,
            publicKey: parsed.line,
            createdAt: Date()
        )
        do {
            try await core.store.insertSSHKey(
                key,
                uniqueAcrossUsers: rules.sshKeysUniqueAcrossUsers,
                audit: AuditEvent(.sshKeyAdded, userId: key.userId, detail: ["fingerprint": .string(key.fingerprint)]),
                mails: [
                    try notice(
                        "ssh-key-added",
                        to: principal.user,
                        subject: "An SSH key was added to your account",
                        values: ["name": key.name, "fingerprint": key.fingerprint]
                    )
                ]
            )
        } catch StoreError.duplicate {
            throw Self.sshKeyTaken
        }
        core.outboxNudge.signal()
        return key
    }

    /// A security notice to the owner, queued with the change that causes it.
    func notice(_ template: String, to user: User, subject: String, values: [String: String]) throws -> OutboxMail {
        let accounts = core.accounts
        return try accounts.mail(
            template,
            to: user.email,
            subject: "\(subject) (\(core.settings.mail.productName))",
            values: accounts.noticeValues(values)
        )
    }

    public func sshKeys(userId: String) async throws -> [SSHKey] {
        try await core.store.sshKeys(userId: userId)
    }

    public func deleteSSHKey(id: String, by principal: Principal) async throws {
        guard
            try await core.store.deleteSSHKey(
                id: id,
                userId: principal.user.id,
                audit: AuditEvent(.sshKeyDeleted, userId: principal.user.id, detail: ["keyId": .string(id)])
            )
        else { throw Self.sshKeyNotFound }
    }
}

extension Core {
    public var credentials: Credentials { Credentials(core: self) }
}
