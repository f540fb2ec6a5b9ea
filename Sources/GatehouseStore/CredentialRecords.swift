import Foundation
import GRDB
import GatehouseCore

/// A row of `api_keys`.
struct APIKeyRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "api_keys"

    var id: String
    var userId: String
    var name: String
    var prefix: String
    var keyHash: String
    var createdAt: Date
    var lastUsedAt: Date?
    var expiresAt: Date?

    init(_ key: APIKey) {
        (id, userId, name, prefix, keyHash) = (key.id, key.userId, key.name, key.prefix, key.keyHash)
        (createdAt, lastUsedAt, expiresAt) = (key.createdAt, key.lastUsedAt, key.expiresAt)
    }

    var key: APIKey {
        APIKey(
            id: id,
            userId: userId,
            name: name,
            prefix: prefix,
            keyHash: keyHash,
            createdAt: createdAt,
            lastUsedAt: lastUsedAt,
            expiresAt: expiresAt
        )
    }
}

/// A row of `ssh_keys`.
struct SSHKeyRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "ssh_keys"

    var id: String
    var userId: String
    var name: String
    var type: String
    var fingerprint: String
    var publicKey: String
    var createdAt: Date

    init(_ key: SSHKey) {
        (id, userId, name, type) = (key.id, key.userId, key.name, key.type)
        (fingerprint, publicKey, createdAt) = (key.fingerprint, key.publicKey, key.createdAt)
    }

    var key: SSHKey {
        SSHKey(
            id: id,
            userId: userId,
            name: name,
            type: type,
            fingerprint: fingerprint,
            publicKey: publicKey,
            createdAt: createdAt
        )
    }
}

extension SQLiteStore {
    // MARK: API keys

    public func insertAPIKey(_ key: APIKey, maxPerUser: Int, audit: AuditEvent, mails: [OutboxMail]) async throws
        -> Bool
    {
        let record = APIKeyRecord(key)
        return try await accountWrite(userId: key.userId) { db in
            guard try APIKeyRecord.filter(Column("userId") == key.userId).fetchCount(db) < maxPerUser else {
                return false
            }
            try record.insert(db)
            try AuditRecord(audit).insert(db)
            for mail in mails { try Self.enqueueMail(mail, in: db) }
            return true
        }
    }

    public func apiKeys(userId: String) async throws -> [APIKey] {
        try await pool.read { db in
            try APIKeyRecord.filter(Column("userId") == userId)
                .order(Column("createdAt").desc, Column("id").desc)
                .fetchAll(db).map(\.key)
        }
    }

    public func deleteAPIKey(id: String, userId: String, audit: AuditEvent) async throws -> Bool {
        try await accountWrite(userId: userId) { db in
            guard try APIKeyRecord.filter(Column("id") == id && Column("userId") == userId).deleteAll(db) > 0 else {
                return false
            }
            try AuditRecord(audit).insert(db)
            return true
        }
    }

    public func apiKey(keyHash: String, now: Date) async throws -> (APIKey, User)? {
        let found: (APIKey, User)?
        if let cached = apiKeyCache.lookup(keyHash) {
            found = cached
        } else {
            let generation = apiKeyCache.generation
            found = try await pool.read { db in
                guard let key = try APIKeyRecord.filter(Column("keyHash") == keyHash).fetchOne(db),
                    let user = try UserRecord.fetchOne(db, key: key.userId)
                else { return nil }
                return (key.key, try user.user)
            }
            if let found { apiKeyCache.store(keyHash, found, userId: found.1.id, ifGeneration: generation) }
        }
        guard let found else { return nil }
        if let expiresAt = found.0.expiresAt, expiresAt <= now { return nil }
        return found
    }

    public func touchAPIKey(id: String, userId: String, at date: Date) async throws {
        try await accountWrite(userId: userId) { db in
            try db.execute(sql: "UPDATE api_keys SET lastUsedAt = ? WHERE id = ?", arguments: [date, id])
        }
    }

    // MARK: SSH keys

    public func insertSSHKey(_ key: SSHKey, uniqueAcrossUsers: Bool, audit: AuditEvent, mails: [OutboxMail])
        async throws
    {
        let record = SSHKeyRecord(key)
        try await pool.write { db in
            var holders = SSHKeyRecord.filter(Column("fingerprint") == key.fingerprint)
            if !uniqueAcrossUsers { holders = holders.filter(Column("userId") == key.userId) }
            guard try holders.fetchCount(db) == 0 else { throw StoreError.duplicate(field: "fingerprint") }
            try record.insert(db)
            try AuditRecord(audit).insert(db)
            for mail in mails { try Self.enqueueMail(mail, in: db) }
        }
    }

    public func sshKeys(userId: String) async throws -> [SSHKey] {
        try await pool.read { db in
            try SSHKeyRecord.filter(Column("userId") == userId)
                .order(Column("createdAt").desc, Column("id").desc)
                .fetchAll(db).map(\.key)
        }
    }

    public func deleteSSHKey(id: String, userId: String, audit: AuditEvent) async throws -> Bool {
        try await pool.write { db in
            guard try SSHKeyRecord.filter(Column("id") == id && Column("userId") == userId).deleteAll(db) > 0 else {
                return false
            }
            try AuditRecord(audit).insert(db)
            return true
        }
    }
}
