import Foundation
import GRDB
import GatehouseCore

/// A passkey as stored: transports as one comma-separated text, the key as a blob.
struct PasskeyRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "passkeys"

    enum Columns {
        static let id = Column("id")
        static let userId = Column("userId")
        static let name = Column("name")
        static let credentialID = Column("credentialID")
        static let publicKey = Column("publicKey")
        static let counter = Column("counter")
        static let deviceType = Column("deviceType")
        static let backedUp = Column("backedUp")
        static let transports = Column("transports")
        static let aaguid = Column("aaguid")
        static let createdAt = Column("createdAt")
    }

    var passkey: Passkey

    init(_ passkey: Passkey) { self.passkey = passkey }

    init(row: Row) {
        typealias C = Columns
        let transports: String = row[C.transports]
        let key: Data = row[C.publicKey]
        passkey = Passkey(
            id: row[C.id],
            userId: row[C.userId],
            name: row[C.name],
            credentialID: row[C.credentialID],
            publicKey: Array(key),
            counter: row[C.counter],
            deviceType: row[C.deviceType],
            backedUp: row[C.backedUp],
            transports: transports.split(separator: ",").map(String.init),
            aaguid: row[C.aaguid],
            createdAt: row[C.createdAt]
        )
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.id] = passkey.id
        container[C.userId] = passkey.userId
        container[C.name] = passkey.name
        container[C.credentialID] = passkey.credentialID
        container[C.publicKey] = Data(passkey.publicKey)
        container[C.counter] = passkey.counter
        container[C.deviceType] = passkey.deviceType
        container[C.backedUp] = passkey.backedUp
        container[C.transports] = passkey.transports.joined(separator: ",")
        container[C.aaguid] = passkey.aaguid
        container[C.createdAt] = passkey.createdAt
    }
}

/// A ceremony's challenge as stored.
struct PasskeyChallengeRecord: PersistableRecord {
    static let databaseTableName = "passkey_challenges"

    enum Columns {
        static let tokenHash = Column("tokenHash")
        static let ceremony = Column("ceremony")
        static let challenge = Column("challenge")
        static let userId = Column("userId")
        static let source = Column("source")
        static let expiresAt = Column("expiresAt")
    }

    var challenge: PasskeyChallenge

    init(_ challenge: PasskeyChallenge) { self.challenge = challenge }

    init(row: Row) throws {
        typealias C = Columns
        let ceremony: String = row[C.ceremony]
        guard let known = PasskeyChallenge.Ceremony(rawValue: ceremony) else {
            throw StoreError.unknownValue(column: "passkey_challenges.ceremony", value: ceremony)
        }
        challenge = PasskeyChallenge(
            tokenHash: row[C.tokenHash],
            ceremony: known,
            challenge: row[C.challenge],
            userId: row[C.userId],
            source: row[C.source],
            expiresAt: row[C.expiresAt]
        )
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.tokenHash] = challenge.tokenHash
        container[C.ceremony] = challenge.ceremony.rawValue
        container[C.challenge] = challenge.challenge
        container[C.userId] = challenge.userId
        container[C.source] = challenge.source
        container[C.expiresAt] = challenge.expiresAt
    }
}

extension SQLiteStore {
    public func insertPasskeyChallenge(_ challenge: PasskeyChallenge, perSource: Int, limit: Int, now: Date)
        async throws -> Bool
    {
        typealias C = PasskeyChallengeRecord.Columns
        return try await pool.write { db in
            try PasskeyChallengeRecord.filter(C.expiresAt <= now).deleteAll(db)
            switch challenge.ceremony {
            case .registration:
                try PasskeyChallengeRecord.filter(
                    C.ceremony == PasskeyChallenge.Ceremony.registration.rawValue && C.userId == challenge.userId
                ).deleteAll(db)
            case .authentication:
                let signIns = PasskeyChallengeRecord.filter(
                    C.ceremony == PasskeyChallenge.Ceremony.authentication.rawValue
                )
                guard try signIns.filter(C.source == challenge.source).fetchCount(db) < perSource,
                    try signIns.fetchCount(db) < limit
                else { return false }
            }
            try PasskeyChallengeRecord(challenge).insert(db)
            return true
        }
    }

    public func takePasskeyChallenge(tokenHash: String, now: Date) async throws -> PasskeyChallenge? {
        try await pool.write { db in
            let request = PasskeyChallengeRecord.filter(PasskeyChallengeRecord.Columns.tokenHash == tokenHash)
            guard let row = try Row.fetchOne(db, request) else { return nil }
            try request.deleteAll(db)
            let record = try PasskeyChallengeRecord(row: row)
            return record.challenge.expiresAt > now ? record.challenge : nil
        }
    }

    public func insertPasskey(_ passkey: Passkey, limit: Int, audit: AuditEvent, mails: [OutboxMail]) async throws
        -> Bool
    {
        try await pool.write { db in
            guard try PasskeyRecord.filter(PasskeyRecord.Columns.userId == passkey.userId).fetchCount(db) < limit
            else { return false }
            guard try PasskeyRecord.filter(PasskeyRecord.Columns.credentialID == passkey.credentialID).isEmpty(db)
            else { throw StoreError.duplicate(field: "credentialID") }
            try PasskeyRecord(passkey).insert(db)
            try AuditRecord(audit).insert(db)
            for mail in mails { try Self.enqueueMail(mail, in: db) }
            return true
        }
    }

    public func passkeys(userId: String) async throws -> [Passkey] {
        try await pool.read { db in
            try PasskeyRecord.filter(PasskeyRecord.Columns.userId == userId)
                .order(PasskeyRecord.Columns.createdAt, PasskeyRecord.Columns.id)
                .fetchAll(db).map(\.passkey)
        }
    }

    public func passkey(credentialID: String) async throws -> Passkey? {
        try await pool.read { db in
            try PasskeyRecord.filter(PasskeyRecord.Columns.credentialID == credentialID).fetchOne(db)?.passkey
        }
    }

    public func advancePasskeyCounter(id: String, from old: Int, to new: Int, backedUp: Bool) async throws -> Bool {
        try await pool.write { db in
            try PasskeyRecord.filter(PasskeyRecord.Columns.id == id && PasskeyRecord.Columns.counter == old)
                .updateAll(
                    db,
                    PasskeyRecord.Columns.counter.set(to: new),
                    PasskeyRecord.Columns.backedUp.set(to: backedUp)
                )
                > 0
        }
    }

    public func renamePasskey(id: String, userId: String, name: String) async throws -> Passkey? {
        try await pool.write { db in
            let request = PasskeyRecord.filter(PasskeyRecord.Columns.id == id && PasskeyRecord.Columns.userId == userId)
            guard try request.updateAll(db, PasskeyRecord.Columns.name.set(to: name)) > 0 else { return nil }
            return try request.fetchOne(db)?.passkey
        }
    }

    public func deletePasskey(id: String, userId: String, audit: AuditEvent) async throws -> Bool {
        try await pool.write { db in
            try db.deleteOwned(PasskeyRecord.self, id: id, userId: userId, audit: [audit])
        }
    }
}
