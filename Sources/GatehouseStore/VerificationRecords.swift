import Foundation
import GRDB
import GatehouseCore

/// A row of `email_verifications`.
struct VerificationRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "email_verifications"

    var id: String
    var userId: String
    var tokenHash: String
    var codeHash: String
    var expiresAt: Date
    var attempts: Int
    var createdAt: Date

    init(_ v: EmailVerification) {
        (id, userId, tokenHash, codeHash) = (v.id, v.userId, v.tokenHash, v.codeHash)
        (expiresAt, attempts, createdAt) = (v.expiresAt, v.attempts, v.createdAt)
    }

    var verification: EmailVerification {
        EmailVerification(
            id: id,
            userId: userId,
            tokenHash: tokenHash,
            codeHash: codeHash,
            expiresAt: expiresAt,
            attempts: attempts,
            createdAt: createdAt
        )
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
                try record.insert(db)
                try VerificationRecord(verification).insert(db)
                try Self.enqueueMail(mail, in: db)
                try AuditRecord(audit).insert(db)
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw StoreError.duplicate(field: Self.column(of: error) ?? "id")
        }
    }

    public func replaceVerification(_ verification: EmailVerification, mail: OutboxMail) async throws {
        try await accountWrite(userId: verification.userId) { db in
            try VerificationRecord.filter(Column("userId") == verification.userId).deleteAll(db)
            try VerificationRecord(verification).insert(db)
            try Self.enqueueMail(mail, in: db)
        }
    }

    public func verification(tokenHash: String) async throws -> EmailVerification? {
        try await pool.read { db in
            try VerificationRecord.filter(Column("tokenHash") == tokenHash).fetchOne(db)?.verification
        }
    }

    public func verification(userId: String) async throws -> EmailVerification? {
        try await pool.read { db in
            try VerificationRecord.filter(Column("userId") == userId).order(Column("createdAt").desc).fetchOne(db)?
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
            try VerificationRecord.filter(Column("userId") == userId).deleteAll(db)
        }
    }
}
