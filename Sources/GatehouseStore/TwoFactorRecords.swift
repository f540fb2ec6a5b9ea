import Foundation
import GRDB
import GatehouseCore

/// A row of `two_factor`: one per user who has started or finished 2FA setup.
struct TwoFactorRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "two_factor"

    enum Columns {
        static let userId = Column("userId")
        static let sealedSecret = Column("sealedSecret")
        static let enabled = Column("enabled")
        static let lastUsedStep = Column("lastUsedStep")
        static let createdAt = Column("createdAt")
    }

    var secret: TwoFactorSecret

    init(_ secret: TwoFactorSecret) { self.secret = secret }

    init(row: Row) {
        typealias C = Columns
        secret = TwoFactorSecret(
            userId: row[C.userId],
            sealedSecret: row[C.sealedSecret],
            enabled: row[C.enabled],
            lastUsedStep: row[C.lastUsedStep],
            createdAt: row[C.createdAt]
        )
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.userId] = secret.userId
        container[C.sealedSecret] = secret.sealedSecret
        container[C.enabled] = secret.enabled
        container[C.lastUsedStep] = secret.lastUsedStep
        container[C.createdAt] = secret.createdAt
    }
}

/// A row of `login_challenges`.
struct LoginChallengeRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "login_challenges"

    enum Columns {
        static let id = Column("id")
        static let userId = Column("userId")
        static let tokenHash = Column("tokenHash")
        static let expiresAt = Column("expiresAt")
        static let attempts = Column("attempts")
        static let createdAt = Column("createdAt")
    }

    var challenge: LoginChallenge

    init(_ challenge: LoginChallenge) { self.challenge = challenge }

    init(row: Row) {
        typealias C = Columns
        challenge = LoginChallenge(
            id: row[C.id],
            userId: row[C.userId],
            tokenHash: row[C.tokenHash],
            expiresAt: row[C.expiresAt],
            attempts: row[C.attempts],
            createdAt: row[C.createdAt]
        )
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.id] = challenge.id
        container[C.userId] = challenge.userId
        container[C.tokenHash] = challenge.tokenHash
        container[C.expiresAt] = challenge.expiresAt
        container[C.attempts] = challenge.attempts
        container[C.createdAt] = challenge.createdAt
    }
}

extension SQLiteStore {
    public func twoFactorSecret(userId: String) async throws -> TwoFactorSecret? {
        try await pool.read { db in try TwoFactorRecord.fetchOne(db, key: userId)?.secret }
    }

    public func savePendingTwoFactor(_ secret: TwoFactorSecret, backupCodeHashes: [String]) async throws {
        try await pool.write { db in
            // 2FA is off (an enabled secret makes the insert below fail): its old codes go.
            try Self.storeBackupCodes(backupCodeHashes, userId: secret.userId, in: db)
            try TwoFactorRecord.filter(
                TwoFactorRecord.Columns.userId == secret.userId && TwoFactorRecord.Columns.enabled == false
            ).deleteAll(db)
            try TwoFactorRecord(secret).insert(db)
        }
    }

    public func enableTwoFactor(userId: String, step: Int64, backupCodeHashes: [String]?, audit: AuditEvent)
        async throws -> Bool
    {
        try await accountWrite(userId: userId) { db in
            try db.execute(
                sql: "UPDATE two_factor SET enabled = 1, lastUsedStep = ? WHERE userId = ? AND enabled = 0",
                arguments: [step, userId]
            )
            guard db.changesCount == 1 else { return false }
            if let backupCodeHashes { try Self.storeBackupCodes(backupCodeHashes, userId: userId, in: db) }
            try db.execute(
                sql: "UPDATE users SET twoFactorEnabled = 1, updatedAt = ? WHERE id = ?",
                arguments: [Date(), userId]
            )
            try AuditRecord(audit).insert(db)
            return true
        }
    }

    public func disableTwoFactor(userId: String, proof: TwoFactorProof?, audit: AuditEvent, mails: [OutboxMail])
        async throws -> Bool
    {
        try await accountWrite(userId: userId) { db in
            if let proof {
                guard try Self.spend(proof, userId: userId, in: db) else { return false }
            }
            guard try TwoFactorRecord.deleteOne(db, key: userId) else { return false }
            try Self.forgetPendingAccess(userId: userId, in: db)
            try db.execute(sql: "DELETE FROM backup_codes WHERE userId = ?", arguments: [userId])
            try LoginChallengeRecord.filter(LoginChallengeRecord.Columns.userId == userId).deleteAll(db)
            try db.execute(
                sql: "UPDATE users SET twoFactorEnabled = 0, updatedAt = ? WHERE id = ?",
                arguments: [Date(), userId]
            )
            try AuditRecord(audit).insert(db)
            for mail in mails { try Self.enqueueMail(mail, in: db) }
            return true
        }
    }

    public func saveLoginCode(challengeId: String, codeHash: String, expiresAt: Date, mail: OutboxMail) async throws
        -> Bool
    {
        try await pool.write { db in
            guard try LoginChallengeRecord.exists(db, key: challengeId) else { return false }
            try db.execute(
                sql: "INSERT OR REPLACE INTO login_codes (challengeId, codeHash, expiresAt) VALUES (?, ?, ?)",
                arguments: [challengeId, codeHash, expiresAt]
            )
            try Self.enqueueMail(mail, in: db)
            return true
        }
    }

    public func loginCode(challengeId: String) async throws -> (codeHash: String, expiresAt: Date)? {
        try await pool.read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT codeHash, expiresAt FROM login_codes WHERE challengeId = ?",
                arguments: [challengeId]
            ).map { ($0["codeHash"], $0["expiresAt"]) }
        }
    }

    public func trustDevice(tokenHash: String, userId: String, expiresAt: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM trusted_devices WHERE expiresAt <= ?", arguments: [Date()])
            try db.execute(
                sql: "INSERT INTO trusted_devices (tokenHash, userId, expiresAt, createdAt) VALUES (?, ?, ?, ?)",
                arguments: [tokenHash, userId, expiresAt, Date()]
            )
        }
    }

    public func takeTrustedDevice(tokenHash: String, userId: String, now: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "DELETE FROM trusted_devices WHERE tokenHash = ? AND userId = ? AND expiresAt > ?",
                arguments: [tokenHash, userId, now]
            )
            return db.changesCount == 1
        }
    }

    /// Forgets what could still get into `userId`'s account without its password: trusted
    /// browsers, sign-ins waiting for their second factor, changes of address waiting for their
    /// link. In the caller's transaction (a password change or reset, a suspension, 2FA off).
    static func forgetPendingAccess(userId: String, in db: Database) throws {
        try db.execute(sql: "DELETE FROM trusted_devices WHERE userId = ?", arguments: [userId])
        try db.execute(sql: "DELETE FROM login_challenges WHERE userId = ?", arguments: [userId])
        try db.execute(sql: "DELETE FROM email_changes WHERE userId = ?", arguments: [userId])
    }

    public func replaceBackupCodes(userId: String, hashes: [String]) async throws -> Bool {
        try await pool.write { db in
            guard
                try TwoFactorRecord.filter(
                    TwoFactorRecord.Columns.userId == userId && TwoFactorRecord.Columns.enabled == true
                ).fetchCount(db) == 1
            else { return false }
            try Self.storeBackupCodes(hashes, userId: userId, in: db)
            return true
        }
    }

    /// The account's backup codes become `hashes`, in the caller's transaction.
    static func storeBackupCodes(_ hashes: [String], userId: String, in db: Database) throws {
        try db.execute(sql: "DELETE FROM backup_codes WHERE userId = ?", arguments: [userId])
        for hash in hashes {
            try db.execute(sql: "INSERT INTO backup_codes (userId, codeHash) VALUES (?, ?)", arguments: [userId, hash])
        }
    }

    public func unusedBackupCodeCount(userId: String) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(
                db,
                sql: "SELECT COUNT(*) FROM backup_codes WHERE userId = ? AND usedAt IS NULL",
                arguments: [userId]
            ) ?? 0
        }
    }

    public func insertLoginChallenge(_ challenge: LoginChallenge) async throws {
        try await pool.write { db in
            // Expired challenges of anyone go with each new one; they are few and short-lived.
            try LoginChallengeRecord.filter(LoginChallengeRecord.Columns.expiresAt <= Date()).deleteAll(db)
            try LoginChallengeRecord(challenge).insert(db)
        }
    }

    public func loginChallenge(tokenHash: String, now: Date) async throws -> LoginChallenge? {
        try await pool.read { db in
            try LoginChallengeRecord.filter(
                LoginChallengeRecord.Columns.tokenHash == tokenHash && LoginChallengeRecord.Columns.expiresAt > now
            )
            .fetchOne(db)?.challenge
        }
    }

    public func failLoginChallenge(id: String, maxAttempts: Int) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE login_challenges SET attempts = attempts + 1 WHERE id = ?", arguments: [id])
            try db.execute(
                sql: "DELETE FROM login_challenges WHERE id = ? AND attempts >= ?",
                arguments: [id, maxAttempts]
            )
        }
    }

    public func completeLoginChallenge(
        id: String,
        proof: TwoFactorProof,
        session: Session,
        keepAtMost: Int,
        audit: AuditEvent,
        mails: [OutboxMail]
    ) async throws -> Bool {
        do {
            return try await accountWrite(userId: session.userId) { db in
                guard try LoginChallengeRecord.deleteOne(db, key: id) else { return false }
                guard try Self.spend(proof, userId: session.userId, in: db) else {
                    // Already spent (a second request with the same code): roll back, so the
                    // challenge stays for a fresh code.
                    throw SpentProof()
                }
                try Self.insertSession(session, keepAtMost: keepAtMost, in: db)
                try AuditRecord(audit).insert(db)
                for mail in mails { try Self.enqueueMail(mail, in: db) }
                return true
            }
        } catch is SpentProof {
            return false
        }
    }

    struct SpentProof: Error {}

    /// Marks `proof` used: a TOTP step above the last one used, or an unused backup code.
    static func spend(_ proof: TwoFactorProof, userId: String, in db: Database) throws -> Bool {
        switch proof {
        case .totp(let step):
            try db.execute(
                sql: """
                    UPDATE two_factor SET lastUsedStep = ?
                    WHERE userId = ? AND enabled = 1 AND (lastUsedStep IS NULL OR lastUsedStep < ?)
                    """,
                arguments: [step, userId, step]
            )
        case .backupCode(let hash):
            try db.execute(
                sql: "UPDATE backup_codes SET usedAt = ? WHERE userId = ? AND codeHash = ? AND usedAt IS NULL",
                arguments: [Date(), userId, hash]
            )
        case .mailedCode:
            // Spent with its challenge, which the caller has just deleted (once).
            return true
        }
        return db.changesCount == 1
    }
}
