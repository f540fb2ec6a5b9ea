import Foundation
import GRDB
import GatehouseCore

/// A row of `email_verifications`.
struct VerificationRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "email_verifications"

    enum Columns {
        static let id = Column("id")
        static let userId = Column("userId")
        static let tokenHash = Column("tokenHash")
        static let codeHash = Column("codeHash")
        static let expiresAt = Column("expiresAt")
        static let attempts = Column("attempts")
        static let createdAt = Column("createdAt")
    }

    var verification: EmailVerification

    init(_ verification: EmailVerification) { self.verification = verification }

    init(row: Row) {
        typealias C = Columns
        verification = EmailVerification(
            id: row[C.id],
            userId: row[C.userId],
            tokenHash: row[C.tokenHash],
            codeHash: row[C.codeHash],
            expiresAt: row[C.expiresAt],
            attempts: row[C.attempts],
            createdAt: row[C.createdAt]
        )
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.id] = verification.id
        container[C.userId] = verification.userId
        container[C.tokenHash] = verification.tokenHash
        container[C.codeHash] = verification.codeHash
        container[C.expiresAt] = verification.expiresAt
        container[C.attempts] = verification.attempts
        container[C.createdAt] = verification.createdAt
    }
}

extension SQLiteStore {
    public func createAccount(
        _ user: User,
        verification: EmailVerification,
        mail: OutboxMail,
        audit: AuditEvent
    ) async throws {
        let record = UserRecord(user)
        do {
            try await accountWrite(userId: user.id) { db in
                try Self.requireEmailFree(user, in: db)
                try record.insert(db)
                try VerificationRecord(verification).insert(db)
                try Self.enqueueMail(mail, in: db)
                try AuditRecord(audit).insert(db)
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw StoreError.duplicate(field: "id")
        }
    }

    public func replaceVerification(_ verification: EmailVerification, mail: OutboxMail) async throws {
        try await accountWrite(userId: verification.userId) { db in
            try VerificationRecord.filter(VerificationRecord.Columns.userId == verification.userId).deleteAll(db)
            try VerificationRecord(verification).insert(db)
            try Self.enqueueMail(mail, in: db)
        }
    }

    public func verification(tokenHash: String) async throws -> EmailVerification? {
        try await pool.read { db in
            try VerificationRecord.filter(VerificationRecord.Columns.tokenHash == tokenHash).fetchOne(db)?.verification
        }
    }

    public func verification(userId: String) async throws -> EmailVerification? {
        try await pool.read { db in
            try VerificationRecord.filter(VerificationRecord.Columns.userId == userId).order(
                VerificationRecord.Columns.createdAt.desc
            ).fetchOne(db)?
            .verification
        }
    }

    public func countVerificationAttempt(id: String) async throws {
        // The count is no part of a user or credential: the caches stay.
        try await pool.write { db in
            try db.execute(sql: "UPDATE email_verifications SET attempts = attempts + 1 WHERE id = ?", arguments: [id])
        }
    }

    public func completeVerification(userId: String) async throws {
        try await accountWrite(userId: userId) { db in
            try db.execute(
                sql: "UPDATE users SET emailVerified = 1, updatedAt = ? WHERE id = ?",
                arguments: [Date(), userId]
            )
            try VerificationRecord.filter(VerificationRecord.Columns.userId == userId).deleteAll(db)
        }
    }
}
