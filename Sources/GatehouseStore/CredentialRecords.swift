import Foundation
import GRDB
import GatehouseCore

/// A row of `api_keys`.
struct APIKeyRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "api_keys"

    enum Columns {
        static let id = Column("id")
        static let userId = Column("userId")
        static let name = Column("name")
        static let prefix = Column("prefix")
        static let keyHash = Column("keyHash")
        static let createdAt = Column("createdAt")
        static let lastUsedAt = Column("lastUsedAt")
        static let expiresAt = Column("expiresAt")
    }

    var key: APIKey

    init(_ key: APIKey) { self.key = key }

    init(row: Row) {
        typealias C = Columns
        key = APIKey(
            id: row[C.id],
            userId: row[C.userId],
            name: row[C.name],
            prefix: row[C.prefix],
            keyHash: row[C.keyHash],
            createdAt: row[C.createdAt],
            lastUsedAt: row[C.lastUsedAt],
            expiresAt: row[C.expiresAt]
        )
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.id] = key.id
        container[C.userId] = key.userId
        container[C.name] = key.name
        container[C.prefix] = key.prefix
        container[C.keyHash] = key.keyHash
        container[C.createdAt] = key.createdAt
        container[C.lastUsedAt] = key.lastUsedAt
        container[C.expiresAt] = key.expiresAt
    }
}

/// A row of `ssh_keys`.
struct SSHKeyRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "ssh_keys"

    enum Columns {
        static let id = Column("id")
        static let userId = Column("userId")
        static let name = Column("name")
        static let type = Column("type")
        static let fingerprint = Column("fingerprint")
        static let publicKey = Column("publicKey")
        static let createdAt = Column("createdAt")
    }

    var key: SSHKey

    init(_ key: SSHKey) { self.key = key }

    init(row: Row) {
        typealias C = Columns
        key = SSHKey(
            id: row[C.id],
            userId: row[C.userId],
            name: row[C.name],
            type: row[C.type],
            fingerprint: row[C.fingerprint],
            publicKey: row[C.publicKey],
            createdAt: row[C.createdAt]
        )
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.id] = key.id
        container[C.userId] = key.userId
        container[C.name] = key.name
        container[C.type] = key.type
        container[C.fingerprint] = key.fingerprint
        container[C.publicKey] = key.publicKey
        container[C.createdAt] = key.createdAt
    }
}

extension SQLiteStore {
    // MARK: API keys

    public func insertAPIKey(_ key: APIKey, maxPerUser: Int, audit: AuditEvent, mails: [OutboxMail]) async throws
        -> Bool
    {
        let record = APIKeyRecord(key)
        return try await accountWrite(userId: key.userId) { db in
            guard try APIKeyRecord.filter(APIKeyRecord.Columns.userId == key.userId).fetchCount(db) < maxPerUser else {
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
            try APIKeyRecord.filter(APIKeyRecord.Columns.userId == userId)
                .order(APIKeyRecord.Columns.createdAt.desc, APIKeyRecord.Columns.id.desc)
                .fetchAll(db).map(\.key)
        }
    }

    public func deleteAPIKey(id: String, userId: String, audit: AuditEvent) async throws -> Bool {
        try await accountWrite(userId: userId) { db in
            try db.deleteOwned(APIKeyRecord.self, id: id, userId: userId, audit: [audit])
        }
    }

    public func apiKey(keyHash: String, now: Date) async throws -> (APIKey, User)? {
        let found: (APIKey, User)?
        if let cached = apiKeyCache.lookup(keyHash) {
            found = cached
        } else {
            let generation = apiKeyCache.generation
            found = try await pool.read { db in
                guard let key = try APIKeyRecord.filter(APIKeyRecord.Columns.keyHash == keyHash).fetchOne(db),
                    let user = try UserRecord.fetchOne(db, key: key.key.userId)
                else { return nil }
                return (key.key, user.user)
            }
            if let found { apiKeyCache.store(keyHash, found, userId: found.1.id, ifGeneration: generation) }
        }
        guard let found else { return nil }
        if let expiresAt = found.0.expiresAt, expiresAt <= now { return nil }
        return found
    }

    /// A last-use write: the cached entry is changed in place, no other entry is dropped.
    public func touchAPIKey(id: String, userId: String, at date: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE api_keys SET lastUsedAt = ? WHERE id = ?", arguments: [date, id])
        }
        apiKeyCache.modify(userId: userId) { entry in
            if entry.0.id == id { entry.0.lastUsedAt = max(entry.0.lastUsedAt ?? date, date) }
        }
    }

    // MARK: SSH keys

    public func insertSSHKey(_ key: SSHKey, uniqueAcrossUsers: Bool, audit: AuditEvent, mails: [OutboxMail])
        async throws
    {
        let record = SSHKeyRecord(key)
        try await pool.write { db in
            var holders = SSHKeyRecord.filter(SSHKeyRecord.Columns.fingerprint == key.fingerprint)
            if !uniqueAcrossUsers { holders = holders.filter(SSHKeyRecord.Columns.userId == key.userId) }
            guard try holders.fetchCount(db) == 0 else { throw StoreError.duplicate(field: "fingerprint") }
            try record.insert(db)
            try AuditRecord(audit).insert(db)
            for mail in mails { try Self.enqueueMail(mail, in: db) }
        }
    }

    public func sshKeys(userId: String) async throws -> [SSHKey] {
        try await pool.read { db in
            try SSHKeyRecord.filter(SSHKeyRecord.Columns.userId == userId)
                .order(SSHKeyRecord.Columns.createdAt.desc, SSHKeyRecord.Columns.id.desc)
                .fetchAll(db).map(\.key)
        }
    }

    public func deleteSSHKey(id: String, userId: String, audit: AuditEvent) async throws -> Bool {
        try await pool.write { db in
            try db.deleteOwned(SSHKeyRecord.self, id: id, userId: userId, audit: [audit])
        }
    }
}
