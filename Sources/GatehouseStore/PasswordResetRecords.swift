import Foundation
import GRDB
import GatehouseCore

/// A row of `password_resets`.
struct PasswordResetRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "password_resets"

    enum Columns {
        static let id = Column("id")
        static let userId = Column("userId")
        static let tokenHash = Column("tokenHash")
        static let expiresAt = Column("expiresAt")
        static let createdAt = Column("createdAt")
    }

    var reset: PasswordReset

    init(_ reset: PasswordReset) { self.reset = reset }

    init(row: Row) {
        typealias C = Columns
        reset = PasswordReset(
            id: row[C.id],
            userId: row[C.userId],
            tokenHash: row[C.tokenHash],
            expiresAt: row[C.expiresAt],
            createdAt: row[C.createdAt]
        )
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.id] = reset.id
        container[C.userId] = reset.userId
        container[C.tokenHash] = reset.tokenHash
        container[C.expiresAt] = reset.expiresAt
        container[C.createdAt] = reset.createdAt
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
        try await pool.read { db in
            try PasswordResetRecord.filter(PasswordResetRecord.Columns.tokenHash == tokenHash).fetchOne(db)?.reset
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
            try SessionRecord.filter(SessionRecord.Columns.userId == userId).deleteAll(db)
            try APIKeyRecord.filter(APIKeyRecord.Columns.userId == userId).deleteAll(db)
            try PasskeyRecord.filter(PasskeyRecord.Columns.userId == userId).deleteAll(db)
            try PasswordResetRecord.filter(PasswordResetRecord.Columns.userId == userId).deleteAll(db)
            try Self.forgetPendingAccess(userId: userId, in: db)
            try Self.enqueueMail(notice, in: db)
            try AuditRecord(audit).insert(db)
        }
    }
}
