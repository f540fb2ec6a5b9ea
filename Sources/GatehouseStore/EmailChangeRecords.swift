import Foundation
import GRDB
import GatehouseCore

extension SQLiteStore {
    public func saveEmailChange(_ change: EmailChange, mail: OutboxMail) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM email_changes WHERE userId = ?", arguments: [change.userId])
            try db.execute(
                sql: """
                    INSERT INTO email_changes (tokenHash, userId, newEmail, stage, expiresAt)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [change.tokenHash, change.userId, change.newEmail, change.stage.rawValue, change.expiresAt]
            )
            try Self.enqueueMail(mail, in: db)
        }
    }

    public func takeEmailChange(tokenHash: String, now: Date) async throws -> EmailChange? {
        try await pool.write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT * FROM email_changes WHERE tokenHash = ? AND expiresAt > ?",
                    arguments: [tokenHash, now]
                )
            else { return nil }
            try db.execute(sql: "DELETE FROM email_changes WHERE tokenHash = ?", arguments: [tokenHash])
            let stage: String = row["stage"]
            guard let known = EmailChange.Stage(rawValue: stage) else {
                throw StoreError.unknownValue(column: "email_changes.stage", value: stage)
            }
            return EmailChange(
                tokenHash: row["tokenHash"],
                userId: row["userId"],
                newEmail: row["newEmail"],
                stage: known,
                expiresAt: row["expiresAt"]
            )
        }
    }
}
