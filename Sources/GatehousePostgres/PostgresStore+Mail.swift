import Foundation
import GatehouseCore
import PostgresNIO

// The outbox, across processes: a claim takes one due mail with FOR UPDATE SKIP LOCKED (two
// processes never claim the same row) and holds it for `outboxLease` (`mail.outbox.lease`). A
// process that dies mid-delivery leaves its claim to run out; the next claim after that takes
// the mail again. So a mail is delivered once per successful send, and at least once overall.

extension PostgresStore {
    public func enqueueMail(_ mail: OutboxMail) async throws {
        _ = try await read(mail.insert)
    }

    public func enqueueMails(_ mails: [OutboxMail]) async throws {
        try await write { connection, logger in
            for mail in mails { try await connection.query(mail.insert, logger: logger) }
        }
    }

    public func claimDueMail(now: Date) async throws -> OutboxMail? {
        let until = now.addingTimeInterval(outboxLease)
        // One statement, so no transaction to retry: the row lock makes it atomic, and SKIP
        // LOCKED passes over a row another process is claiming this instant.
        return try await read(
            """
            UPDATE mail_outbox SET "status" = 'sending', "attempts" = "attempts" + 1, "claimedUntil" = \(until)
            WHERE "id" = (
                SELECT "id" FROM mail_outbox
                WHERE ("status" = 'pending' AND "nextAttemptAt" <= \(now))
                    OR ("status" = 'sending' AND "claimedUntil" <= \(now))
                ORDER BY "nextAttemptAt", "id" LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING *
            """
        ).first.map(OutboxMail.init(row:))
    }

    public func recordMailSent(id: String, messageId: String, at: Date) async throws {
        // The body goes once delivered: it may hold a link token, useless to keep.
        _ = try await read(
            """
            UPDATE mail_outbox SET "status" = 'sent', "messageId" = \(messageId), "sentAt" = \(at), "lastError" = NULL,
                "text" = '', "html" = '', "claimedUntil" = NULL
            WHERE "id" = \(id)
            """
        )
    }

    public func recordMailRetry(id: String, attempt: Int, error: String, nextAttemptAt: Date) async throws {
        _ = try await read(
            """
            UPDATE mail_outbox SET "status" = 'pending', "lastError" = \(error), "nextAttemptAt" = \(nextAttemptAt),
                "claimedUntil" = NULL
            WHERE "id" = \(id) AND "status" = 'sending' AND "attempts" = \(attempt)
            """
        )
    }

    public func recordMailFailed(id: String, attempt: Int, error: String) async throws {
        _ = try await read(
            """
            UPDATE mail_outbox SET "status" = 'failed', "lastError" = \(error), "claimedUntil" = NULL
            WHERE "id" = \(id) AND "status" = 'sending' AND "attempts" = \(attempt)
            """
        )
    }

    /// Other processes may be delivering: only claims whose lease ran out (their process died)
    /// go back to pending.
    public func releaseClaimedMail() async throws -> Int {
        try await read(
            """
            UPDATE mail_outbox SET "status" = 'pending', "claimedUntil" = NULL
            WHERE "status" = 'sending' AND "claimedUntil" <= \(Date()) RETURNING "id"
            """
        ).count
    }

    public func nextMailDue() async throws -> Date? {
        try await read(
            """
            SELECT MIN(CASE WHEN "status" = 'pending' THEN "nextAttemptAt" ELSE "claimedUntil" END) AS due
            FROM mail_outbox WHERE "status" = 'pending' OR "status" = 'sending'
            """
        ).first?.get("due")
    }

    public func outboxMail(id: String) async throws -> OutboxMail? {
        try await read("SELECT * FROM mail_outbox WHERE \"id\" = \(id)").first.map(OutboxMail.init(row:))
    }

    public func outboxMails(status: OutboxMail.Status?, before: String?, limit: Int) async throws -> [OutboxMail] {
        try await read(
            """
            SELECT * FROM mail_outbox
            WHERE (\(status?.rawValue)::text IS NULL OR "status" = \(status?.rawValue))
                AND (\(before)::text IS NULL OR "seq" < (SELECT "seq" FROM mail_outbox WHERE "id" = \(before)))
            ORDER BY "seq" DESC LIMIT \(limit)
            """
        ).map(OutboxMail.init(row:))
    }

    public func retryFailedMail(id: String, now: Date, audit: AuditEvent) async throws -> Bool {
        try await write { connection, logger in
            guard
                try await connection.count(
                    """
                    UPDATE mail_outbox SET "status" = 'pending', "nextAttemptAt" = \(now), "attempts" = 0
                    WHERE "id" = \(id) AND "status" = 'failed' RETURNING "id"
                    """,
                    logger
                ) > 0
            else { return false }
            try await connection.query(audit.insert, logger: logger)
            return true
        }
    }

    /// How many mails the outbox holds in each status.
    public func outboxCounts() async throws -> [OutboxMail.Status: Int] {
        var counts: [OutboxMail.Status: Int] = [:]
        for row in try await read("SELECT \"status\", COUNT(*) AS n FROM mail_outbox GROUP BY \"status\"") {
            if let known = OutboxMail.Status(rawValue: try row.get("status")) { counts[known] = try row.get("n") }
        }
        return counts
    }

    /// Every mail in the outbox, oldest first (for tests and tools).
    public func outboxMails() async throws -> [OutboxMail] {
        try await read("SELECT * FROM mail_outbox ORDER BY \"createdAt\", \"id\"").map(OutboxMail.init(row:))
    }

    // MARK: Email verification, password resets, changes of address

    public func createAccount(_ user: User, verification: EmailVerification, mail: OutboxMail, audit: AuditEvent)
        async throws
    {
        try await accountWrite(userId: user.id) { connection, logger in
            try await Self.requireEmailFree(user, on: connection, logger)
            try await connection.query(user.insert, logger: logger)
            try await connection.query(verification.insert, logger: logger)
            try await connection.query(mail.insert, logger: logger)
            try await connection.query(audit.insert, logger: logger)
        }
    }

    public func replaceVerification(_ verification: EmailVerification, mail: OutboxMail) async throws {
        try await accountWrite(userId: verification.userId) { connection, logger in
            try await connection.query(
                "DELETE FROM email_verifications WHERE \"userId\" = \(verification.userId)",
                logger: logger
            )
            try await connection.query(verification.insert, logger: logger)
            try await connection.query(mail.insert, logger: logger)
        }
    }

    public func verification(tokenHash: String) async throws -> EmailVerification? {
        try await read("SELECT * FROM email_verifications WHERE \"tokenHash\" = \(tokenHash)").first.map(
            EmailVerification.init(row:)
        )
    }

    public func verification(userId: String) async throws -> EmailVerification? {
        try await read(
            "SELECT * FROM email_verifications WHERE \"userId\" = \(userId) ORDER BY \"createdAt\" DESC LIMIT 1"
        ).first.map(EmailVerification.init(row:))
    }

    public func countVerificationAttempt(id: String) async throws {
        // The count is no part of a user or credential: the caches stay.
        _ = try await read("UPDATE email_verifications SET \"attempts\" = \"attempts\" + 1 WHERE \"id\" = \(id)")
    }

    public func completeVerification(userId: String) async throws {
        try await accountWrite(userId: userId) { connection, logger in
            try await connection.query(
                #"UPDATE users SET "emailVerified" = true, "updatedAt" = \#(Date()) WHERE "id" = \#(userId)"#,
                logger: logger
            )
            try await connection.query("DELETE FROM email_verifications WHERE \"userId\" = \(userId)", logger: logger)
        }
    }

    public func createPasswordReset(_ reset: PasswordReset, mail: OutboxMail, audit: AuditEvent) async throws {
        try await accountWrite(userId: reset.userId) { connection, logger in
            try await connection.query(reset.insert, logger: logger)
            try await connection.query(mail.insert, logger: logger)
            try await connection.query(audit.insert, logger: logger)
        }
    }

    public func passwordReset(tokenHash: String) async throws -> PasswordReset? {
        try await read("SELECT * FROM password_resets WHERE \"tokenHash\" = \(tokenHash)").first.map(
            PasswordReset.init(row:)
        )
    }

    public func completePasswordReset(userId: String, passwordHash: String, notice: OutboxMail, audit: AuditEvent)
        async throws
    {
        try await accountWrite(userId: userId) { connection, logger in
            try await connection.query(
                #"UPDATE users SET "passwordHash" = \#(passwordHash), "updatedAt" = \#(Date()) WHERE "id" = \#(userId)"#,
                logger: logger
            )
            for table in ["sessions", "api_keys", "passkeys", "password_resets"] {
                try await connection.query(
                    "DELETE FROM \(unescaped: table) WHERE \"userId\" = \(userId)",
                    logger: logger
                )
            }
            try await Self.forgetPendingAccess(userId: userId, on: connection, logger)
            try await connection.query(notice.insert, logger: logger)
            try await connection.query(audit.insert, logger: logger)
        }
    }

    public func saveEmailChange(_ change: EmailChange, mail: OutboxMail) async throws {
        try await write { connection, logger in
            try await connection.query("DELETE FROM email_changes WHERE \"userId\" = \(change.userId)", logger: logger)
            try await connection.query(
                """
                INSERT INTO email_changes ("tokenHash", "userId", "newEmail", "stage", "expiresAt")
                VALUES (\(change.tokenHash), \(change.userId), \(change.newEmail), \(change.stage.rawValue),
                    \(change.expiresAt))
                """,
                logger: logger
            )
            try await connection.query(mail.insert, logger: logger)
        }
    }

    public func takeEmailChange(tokenHash: String, now: Date) async throws -> EmailChange? {
        try await write { connection, logger in
            guard
                let row = try await connection.all(
                    #"""
                    DELETE FROM email_changes WHERE "tokenHash" = \#(tokenHash) AND "expiresAt" > \#(now) RETURNING *
                    """#,
                    logger
                ).first
            else { return nil }
            return EmailChange(
                tokenHash: try row.get("tokenHash"),
                userId: try row.get("userId"),
                newEmail: try row.get("newEmail"),
                stage: try row.known("stage", of: "email_changes"),
                expiresAt: try row.get("expiresAt")
            )
        }
    }
}
