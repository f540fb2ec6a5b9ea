import Foundation
import GRDB
import GatehouseCore

/// A row of `mail_outbox`.
struct OutboxRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "mail_outbox"

    enum Columns {
        static let id = Column("id")
        static let to = Column("to")
        static let subject = Column("subject")
        static let text = Column("text")
        static let html = Column("html")
        static let status = Column("status")
        static let attempts = Column("attempts")
        static let nextAttemptAt = Column("nextAttemptAt")
        static let lastError = Column("lastError")
        static let messageId = Column("messageId")
        static let createdAt = Column("createdAt")
        static let sentAt = Column("sentAt")
        static let template = Column("template")
    }

    var mail: OutboxMail

    init(_ mail: OutboxMail) { self.mail = mail }

    init(row: Row) throws {
        typealias C = Columns
        mail = OutboxMail(
            id: row[C.id],
            to: row[C.to],
            subject: row[C.subject],
            text: row[C.text],
            html: row[C.html],
            status: try row.known(C.status, of: Self.databaseTableName),
            attempts: row[C.attempts],
            nextAttemptAt: row[C.nextAttemptAt],
            lastError: row[C.lastError],
            messageId: row[C.messageId],
            createdAt: row[C.createdAt],
            sentAt: row[C.sentAt],
            template: row[C.template]
        )
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.id] = mail.id
        container[C.to] = mail.to
        container[C.subject] = mail.subject
        container[C.text] = mail.text
        container[C.html] = mail.html
        container[C.status] = mail.status.rawValue
        container[C.attempts] = mail.attempts
        container[C.nextAttemptAt] = mail.nextAttemptAt
        container[C.lastError] = mail.lastError
        container[C.messageId] = mail.messageId
        container[C.createdAt] = mail.createdAt
        container[C.sentAt] = mail.sentAt
        container[C.template] = mail.template
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
                var record = try OutboxRecord.filter(
                    OutboxRecord.Columns.status == "pending" && OutboxRecord.Columns.nextAttemptAt <= now
                )
                .order(OutboxRecord.Columns.nextAttemptAt, OutboxRecord.Columns.id)
                .fetchOne(db)
            else { return nil }
            record.mail.status = .sending
            record.mail.attempts += 1
            try record.update(db)
            return record.mail
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

    public func recordMailRetry(id: String, attempt: Int, error: String, nextAttemptAt: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE mail_outbox SET status = 'pending', lastError = ?, nextAttemptAt = ?
                    WHERE id = ? AND status = 'sending' AND attempts = ?
                    """,
                arguments: [error, nextAttemptAt, id, attempt]
            )
        }
    }

    public func recordMailFailed(id: String, attempt: Int, error: String) async throws {
        try await pool.write { db in
            try db.execute(
                sql:
                    "UPDATE mail_outbox SET status = 'failed', lastError = ? WHERE id = ? AND status = 'sending' AND attempts = ?",
                arguments: [error, id, attempt]
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
    public func outboxMails(status: OutboxMail.Status?, before: String?, limit: Int) async throws -> [OutboxMail] {
        typealias C = OutboxRecord.Columns
        return try await pool.read { db in
            var request = OutboxRecord.order(Column.rowID.desc).limit(limit)
            if let status { request = request.filter(C.status == status.rawValue) }
            if let before {
                request = request.filter(
                    sql: "rowid < (SELECT rowid FROM mail_outbox WHERE id = ?)",
                    arguments: [before]
                )
            }
            return try request.fetchAll(db).map(\.mail)
        }
    }

    public func retryFailedMail(id: String, now: Date, audit: AuditEvent) async throws -> Bool {
        typealias C = OutboxRecord.Columns
        return try await pool.write { db in
            guard
                try OutboxRecord.filter(C.id == id && C.status == OutboxMail.Status.failed.rawValue)
                    .updateAll(
                        db,
                        C.status.set(to: OutboxMail.Status.pending.rawValue),
                        C.nextAttemptAt.set(to: now),
                        C.attempts.set(to: 0)
                    )
                    > 0
            else { return false }
            try AuditRecord(audit).insert(db)
            return true
        }
    }

    /// How many mails the outbox holds in each status.
    public func outboxCounts() async throws -> [OutboxMail.Status: Int] {
        try await pool.read { db in
            var counts: [OutboxMail.Status: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM mail_outbox GROUP BY status") {
                let status: String = row["status"]
                if let known = OutboxMail.Status(rawValue: status) { counts[known] = row["n"] }
            }
            return counts
        }
    }

    public func outboxMails() async throws -> [OutboxMail] {
        try await pool.read { db in
            try OutboxRecord.order(OutboxRecord.Columns.createdAt, OutboxRecord.Columns.id).fetchAll(db).map(\.mail)
        }
    }
}
