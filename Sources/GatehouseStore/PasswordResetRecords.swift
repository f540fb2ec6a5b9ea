import Foundation
import GRDB
import GatehouseCore

/// A row of `password_resets`.
struct PasswordResetRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "password_resets"

    var id: String
    var userId: String
    var tokenHash: String
    var expiresAt: Date
    var createdAt: Date

    init(_ reset: PasswordReset) {
        (id, userId, tokenHash, expiresAt, createdAt) = (
            reset.id, reset.userId, reset.tokenHash, reset.expiresAt, reset.createdAt
        )
    }

    var reset: PasswordReset {
        PasswordReset(id: id, userId: userId, tokenHash: tokenHash, expiresAt: expiresAt, createdAt: createdAt)
    }
}

extension SQLiteStore {
    public func createPasswordReset(_ reset: PasswordReset, mail: OutboxMail, audit: AuditEvent) async throws {
        try await accountWrite(userId: reset.userId) { db in
            try PasswordResetRecord(reset).insert(db)
            try Self.enqueueMail(mail, in: db)
            try AuditRecord(audit).insert(db)
        }
    }

    public func passwordReset(tokenHash: String) async throws -> PasswordReset? {
        try await pool.read { db in try PasswordResetRecord.filter(Column("tokenHash") == tokenHash).fetchOne(db)?.reset
        }
    }

    public func completePasswordReset(
        userId: String,
        passwordHash: String,
        notice: OutboxMail,
        audit: AuditEvent
    ) async throws {
        try await accountWrite(userId: userId) { db in
            try db.execute(
                sql: "UPDATE users SET passwordHash = ?, updatedAt = ? WHERE id = ?",
                arguments: [passwordHash, Date(), userId]
            )
            try SessionRecord.filter(Column("userId") == userId).deleteAll(db)
            try APIKeyRecord.filter(Column("userId") == userId).deleteAll(db)
            try PasswordResetRecord.filter(Column("userId") == userId).deleteAll(db)
            try Self.enqueueMail(notice, in: db)
            try AuditRecord(audit).insert(db)
        }
    }
}
