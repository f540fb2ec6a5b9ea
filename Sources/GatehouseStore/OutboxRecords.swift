import Foundation
import GRDB
import GatehouseCore

/// A row of `mail_outbox`.
struct OutboxRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "mail_outbox"

    var id: String
    var to: String
    var subject: String
    var text: String
    var html: String
    var status: String
    var attempts: Int
    var nextAttemptAt: Date
    var lastError: String?
    var messageId: String?
    var createdAt: Date
    var sentAt: Date?

    init(_ mail: OutboxMail) {
        id = mail.id
        to = mail.to
        subject = mail.subject
        text = mail.text
        html = mail.html
        status = mail.status.rawValue
        attempts = mail.attempts
        nextAttemptAt = mail.nextAttemptAt
        lastError = mail.lastError
        messageId = mail.messageId
        createdAt = mail.createdAt
        sentAt = mail.sentAt
    }

    var mail: OutboxMail {
        get throws {
            guard let status = OutboxMail.Status(rawValue: status) else {
                throw StoreError.unknownValue(column: "mail_outbox.status", value: status)
            }
            return OutboxMail(
                id: id,
                to: to,
                subject: subject,
                text: text,
                html: html,
                status: status,
                attempts: attempts,
                nextAttemptAt: nextAttemptAt,
                lastError: lastError,
                messageId: messageId,
                createdAt: createdAt,
                sentAt: sentAt
            )
        }
    }
}

extension SQLiteStore {
    /// Queues a mail inside a write transaction the caller already holds, so that it commits (or
    /// rolls back) with the change that causes it.
    static func enqueueMail(_ mail: OutboxMail, in db: Database) throws {
        try OutboxRecord(mail).insert(db)
    }

    public func enqueueMail(_ mail: OutboxMail) async throws {
        try await pool.write { db in try Self.enqueueMail(mail, in: db) }
    }

    public func enqueueMails(_ mails: [OutboxMail]) async throws {
        try await pool.write { db in
            for mail in mails { try Self.enqueueMail(mail, in: db) }
        }
    }

    public func claimDueMail(now: Date) async throws -> OutboxMail? {
        try await pool.write { db in
            guard
                var record = try OutboxRecord.filter(Column("status") == "pending" && Column("nextAttemptAt") <= now)
                    .order(Column("nextAttemptAt"), Column("id"))
                    .fetchOne(db)
            else { return nil }
            record.status = OutboxMail.Status.sending.rawValue
            record.attempts += 1
            try record.update(db)
            return try record.mail
        }
    }

    public func recordMailSent(id: String, messageId: String, at: Date) async throws {
        try await pool.write { db in
            try db.execute(
                // The body goes once delivered: it may hold a link token, useless to keep.
                sql: """
                    UPDATE mail_outbox SET status = 'sent', messageId = ?, sentAt = ?, lastError = NULL,
                        text = '', html = '' WHERE id = ?
                    """,
                arguments: [messageId, at, id]
            )
        }
    }

    public func recordMailRetry(id: String, error: String, nextAttemptAt: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE mail_outbox SET status = 'pending', lastError = ?, nextAttemptAt = ? WHERE id = ?",
                arguments: [error, nextAttemptAt, id]
            )
        }
    }

    public func recordMailFailed(id: String, error: String) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE mail_outbox SET status = 'failed', lastError = ? WHERE id = ?",
                arguments: [error, id]
            )
        }
    }

    public func releaseClaimedMail() async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "UPDATE mail_outbox SET status = 'pending' WHERE status = 'sending'")
            return db.changesCount
        }
    }

    public func nextMailDue() async throws -> Date? {
        try await pool.read { db in
            try Date.fetchOne(db, sql: "SELECT MIN(nextAttemptAt) FROM mail_outbox WHERE status = 'pending'")
        }
    }

    public func outboxMail(id: String) async throws -> OutboxMail? {
        try await pool.read { db in try OutboxRecord.fetchOne(db, key: id)?.mail }
    }

    /// Every mail in the outbox, oldest first: what tests and tools look at (the server itself
    /// only claims due mail).
    public func outboxMails() async throws -> [OutboxMail] {
        try await pool.read { db in
            try OutboxRecord.order(Column("createdAt"), Column("id")).fetchAll(db).map { try $0.mail }
        }
    }
}
