import Foundation
import GatehouseCore
import PostgresNIO

// Second factors, API keys, SSH keys and passkeys.

extension PostgresStore {
    // MARK: Two-factor

    public func twoFactorSecret(userId: String) async throws -> TwoFactorSecret? {
        try await read("SELECT * FROM two_factor WHERE \"userId\" = \(userId)").first.map(TwoFactorSecret.init(row:))
    }

    public func savePendingTwoFactor(_ secret: TwoFactorSecret, backupCodeHashes: [String]) async throws {
        try await write { connection, logger in
            // 2FA is off (an enabled secret makes the insert below fail): its old codes go.
            try await Self.storeBackupCodes(backupCodeHashes, userId: secret.userId, on: connection, logger)
            try await connection.query(
                #"DELETE FROM two_factor WHERE "userId" = \#(secret.userId) AND "enabled" = false"#,
                logger: logger
            )
            try await connection.query(secret.insert, logger: logger)
        }
    }

    public func enableTwoFactor(userId: String, step: Int64, backupCodeHashes: [String]?, audit: AuditEvent)
        async throws -> Bool
    {
        try await accountWrite(userId: userId) { connection, logger in
            guard
                try await connection.count(
                    """
                    UPDATE two_factor SET "enabled" = true, "lastUsedStep" = \(step)
                    WHERE "userId" = \(userId) AND "enabled" = false RETURNING "userId"
                    """,
                    logger
                ) == 1
            else { return false }
            if let backupCodeHashes {
                try await Self.storeBackupCodes(backupCodeHashes, userId: userId, on: connection, logger)
            }
            try await connection.query(
                #"UPDATE users SET "twoFactorEnabled" = true, "updatedAt" = \#(Date()) WHERE "id" = \#(userId)"#,
                logger: logger
            )
            try await connection.query(audit.insert, logger: logger)
            return true
        }
    }

    public func disableTwoFactor(userId: String, proof: TwoFactorProof?, audit: AuditEvent, mails: [OutboxMail])
        async throws -> Bool
    {
        try await accountWrite(userId: userId) { connection, logger in
            if let proof {
                guard try await Self.spend(proof, userId: userId, on: connection, logger) else { return false }
            }
            guard
                try await connection.count(
                    #"DELETE FROM two_factor WHERE "userId" = \#(userId) RETURNING "userId""#,
                    logger
                ) == 1
            else { return false }
            try await Self.forgetPendingAccess(userId: userId, on: connection, logger)
            try await connection.query("DELETE FROM backup_codes WHERE \"userId\" = \(userId)", logger: logger)
            try await connection.query("DELETE FROM login_challenges WHERE \"userId\" = \(userId)", logger: logger)
            try await connection.query(
                #"UPDATE users SET "twoFactorEnabled" = false, "updatedAt" = \#(Date()) WHERE "id" = \#(userId)"#,
                logger: logger
            )
            try await connection.query(audit.insert, logger: logger)
            for mail in mails { try await connection.query(mail.insert, logger: logger) }
            return true
        }
    }

    public func saveLoginCode(challengeId: String, codeHash: String, expiresAt: Date, mail: OutboxMail) async throws
        -> Bool
    {
        try await write { connection, logger in
            guard
                !(try await connection.all("SELECT 1 FROM login_challenges WHERE \"id\" = \(challengeId)", logger)
                    .isEmpty)
            else { return false }
            try await connection.query(
                """
                INSERT INTO login_codes ("challengeId", "codeHash", "expiresAt") VALUES (\(challengeId), \(codeHash), \(expiresAt))
                ON CONFLICT ("challengeId") DO UPDATE SET "codeHash" = excluded."codeHash", "expiresAt" = excluded."expiresAt"
                """,
                logger: logger
            )
            try await connection.query(mail.insert, logger: logger)
            return true
        }
    }

    public func loginCode(challengeId: String) async throws -> (codeHash: String, expiresAt: Date)? {
        guard
            let row = try await read(
                "SELECT \"codeHash\", \"expiresAt\" FROM login_codes WHERE \"challengeId\" = \(challengeId)"
            ).first
        else { return nil }
        return (try row.get("codeHash"), try row.get("expiresAt"))
    }

    public func trustDevice(tokenHash: String, userId: String, expiresAt: Date) async throws {
        try await write { connection, logger in
            try await connection.query("DELETE FROM trusted_devices WHERE \"expiresAt\" <= \(Date())", logger: logger)
            try await connection.query(
                """
                INSERT INTO trusted_devices ("tokenHash", "userId", "expiresAt", "createdAt")
                VALUES (\(tokenHash), \(userId), \(expiresAt), \(Date()))
                """,
                logger: logger
            )
        }
    }

    public func takeTrustedDevice(tokenHash: String, userId: String, now: Date) async throws -> Bool {
        try await read(
            """
            DELETE FROM trusted_devices WHERE "tokenHash" = \(tokenHash) AND "userId" = \(userId) AND "expiresAt" > \(now)
            RETURNING "tokenHash"
            """
        ).count == 1
    }

    public func replaceBackupCodes(userId: String, hashes: [String]) async throws -> Bool {
        try await write { connection, logger in
            guard
                !(try await connection.all(
                    #"SELECT 1 FROM two_factor WHERE "userId" = \#(userId) AND "enabled" = true"#,
                    logger
                ).isEmpty)
            else { return false }
            try await Self.storeBackupCodes(hashes, userId: userId, on: connection, logger)
            return true
        }
    }

    /// The account's backup codes become `hashes`, in the caller's transaction.
    static func storeBackupCodes(
        _ hashes: [String],
        userId: String,
        on connection: PostgresConnection,
        _ logger: Logger
    ) async throws {
        try await connection.query("DELETE FROM backup_codes WHERE \"userId\" = \(userId)", logger: logger)
        guard !hashes.isEmpty else { return }
        try await connection.query(
            #"INSERT INTO backup_codes ("userId", "codeHash") SELECT \#(userId), unnest(\#(hashes)::text[])"#,
            logger: logger
        )
    }

    public func unusedBackupCodeCount(userId: String) async throws -> Int {
        try await read(
            #"SELECT COUNT(*) AS n FROM backup_codes WHERE "userId" = \#(userId) AND "usedAt" IS NULL"#
        ).first?.get("n") ?? 0
    }

    public func insertLoginChallenge(_ challenge: LoginChallenge) async throws {
        try await write { connection, logger in
            // Expired challenges of anyone go with each new one; they are few and short-lived.
            try await connection.query("DELETE FROM login_challenges WHERE \"expiresAt\" <= \(Date())", logger: logger)
            try await connection.query(challenge.insert, logger: logger)
        }
    }

    public func loginChallenge(tokenHash: String, now: Date) async throws -> LoginChallenge? {
        try await read(
            #"SELECT * FROM login_challenges WHERE "tokenHash" = \#(tokenHash) AND "expiresAt" > \#(now)"#
        ).first.map(LoginChallenge.init(row:))
    }

    public func failLoginChallenge(id: String, maxAttempts: Int) async throws {
        try await write { connection, logger in
            try await connection.query(
                "UPDATE login_challenges SET \"attempts\" = \"attempts\" + 1 WHERE \"id\" = \(id)",
                logger: logger
            )
            try await connection.query(
                #"DELETE FROM login_challenges WHERE "id" = \#(id) AND "attempts" >= \#(maxAttempts)"#,
                logger: logger
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
            return try await accountWrite(userId: session.userId) { connection, logger in
                guard
                    try await connection.count(
                        #"DELETE FROM login_challenges WHERE "id" = \#(id) RETURNING "id""#,
                        logger
                    ) == 1
                else { return false }
                guard try await Self.spend(proof, userId: session.userId, on: connection, logger) else {
                    // Already spent (a second request with the same code): roll back, so the
                    // challenge stays for a fresh code.
                    throw SpentProof()
                }
                try await Self.insertSession(session, keepAtMost: keepAtMost, on: connection, logger)
                try await connection.query(audit.insert, logger: logger)
                for mail in mails { try await connection.query(mail.insert, logger: logger) }
                return true
            }
        } catch is SpentProof {
            return false
        }
    }

    struct SpentProof: Error {}

    /// Marks `proof` used: a TOTP step above the last one used, or an unused backup code.
    static func spend(
        _ proof: TwoFactorProof,
        userId: String,
        on connection: PostgresConnection,
        _ logger: Logger
    ) async throws -> Bool {
        switch proof {
        case .totp(let step):
            try await connection.count(
                """
                UPDATE two_factor SET "lastUsedStep" = \(step)
                WHERE "userId" = \(userId) AND "enabled" = true AND ("lastUsedStep" IS NULL OR "lastUsedStep" < \(step))
                RETURNING "userId"
                """,
                logger
            ) == 1
        case .backupCode(let hash):
            try await connection.count(
                """
                UPDATE backup_codes SET "usedAt" = \(Date())
                WHERE "userId" = \(userId) AND "codeHash" = \(hash) AND "usedAt" IS NULL RETURNING "id"
                """,
                logger
            ) == 1
        case .mailedCode:
            // Spent with its challenge, which the caller has just deleted (once).
            true
        }
    }

    // MARK: API keys

    public func insertAPIKey(_ key: APIKey, maxPerUser: Int, audit: AuditEvent, mails: [OutboxMail]) async throws
        -> Bool
    {
        try await accountWrite(userId: key.userId) { connection, logger in
            guard try await connection.countOwned(.apiKeys, userId: key.userId, logger) < maxPerUser else {
                return false
            }
            try await connection.query(key.insert, logger: logger)
            try await connection.query(audit.insert, logger: logger)
            for mail in mails { try await connection.query(mail.insert, logger: logger) }
            return true
        }
    }

    public func apiKeys(userId: String) async throws -> [APIKey] {
        try await read(
            "SELECT * FROM api_keys WHERE \"userId\" = \(userId) ORDER BY \"createdAt\" DESC, \"id\" DESC"
        ).map { try APIKey(row: $0) }
    }

    public func deleteAPIKey(id: String, userId: String, audit: AuditEvent) async throws -> Bool {
        try await accountWrite(userId: userId) { connection, logger in
            try await connection.deleteOwned(.apiKeys, id: id, userId: userId, audit: [audit], logger)
        }
    }

    public func apiKey(keyHash: String, now: Date) async throws -> (APIKey, User)? {
        let found: (APIKey, User)?
        let trusted = notices.trusted
        if trusted, let cached = apiKeyCache.lookup(keyHash) {
            found = cached
        } else {
            let generation = apiKeyCache.generation
            if let row = try await read(
                """
                SELECT \(unescaped: APIKey.columns("k", columnPrefix: "key.")), u.*
                FROM api_keys k JOIN users u ON u."id" = k."userId" WHERE k."keyHash" = \(keyHash)
                """
            ).first {
                let key = try APIKey(row: row, columnPrefix: "key.")
                found = (key, try User(row: row))
                if trusted, notices.trusted {
                    apiKeyCache.store(keyHash, found!, userId: key.userId, ifGeneration: generation)
                }
            } else {
                found = nil
            }
        }
        guard let found else { return nil }
        if let expiresAt = found.0.expiresAt, expiresAt <= now { return nil }
        return found
    }

    /// A last-use write: the cached entry is changed in place, no other entry is dropped (a
    /// last use is no credential change: the other processes are not told).
    public func touchAPIKey(id: String, userId: String, at date: Date) async throws {
        _ = try await read(#"UPDATE api_keys SET "lastUsedAt" = \#(date) WHERE "id" = \#(id)"#)
        apiKeyCache.modify(userId: userId) { entry in
            if entry.0.id == id { entry.0.lastUsedAt = max(entry.0.lastUsedAt ?? date, date) }
        }
    }

    // MARK: SSH keys

    public func insertSSHKey(_ key: SSHKey, uniqueAcrossUsers: Bool, audit: AuditEvent, mails: [OutboxMail])
        async throws
    {
        try await write { connection, logger in
            let holders = try await connection.all(
                """
                SELECT 1 FROM ssh_keys WHERE "fingerprint" = \(key.fingerprint)
                    AND (\(uniqueAcrossUsers) OR "userId" = \(key.userId)) LIMIT 1
                """,
                logger
            )
            guard holders.isEmpty else { throw StoreError.duplicate(field: "fingerprint") }
            try await connection.query(key.insert, logger: logger)
            try await connection.query(audit.insert, logger: logger)
            for mail in mails { try await connection.query(mail.insert, logger: logger) }
        }
    }

    public func sshKeys(userId: String) async throws -> [SSHKey] {
        try await read(
            "SELECT * FROM ssh_keys WHERE \"userId\" = \(userId) ORDER BY \"createdAt\" DESC, \"id\" DESC"
        ).map(SSHKey.init(row:))
    }

    public func deleteSSHKey(id: String, userId: String, audit: AuditEvent) async throws -> Bool {
        try await write { connection, logger in
            try await connection.deleteOwned(.sshKeys, id: id, userId: userId, audit: [audit], logger)
        }
    }

    // MARK: Passkeys

    public func insertPasskeyChallenge(_ challenge: PasskeyChallenge, perSource: Int, limit: Int, now: Date)
        async throws -> Bool
    {
        try await write { connection, logger in
            try await connection.query("DELETE FROM passkey_challenges WHERE \"expiresAt\" <= \(now)", logger: logger)
            switch challenge.ceremony {
            case .registration:
                try await connection.query(
                    """
                    DELETE FROM passkey_challenges
                    WHERE "ceremony" = \(PasskeyChallenge.Ceremony.registration.rawValue) AND "userId" = \(challenge.userId)
                    """,
                    logger: logger
                )
            case .authentication:
                let row = try await connection.all(
                    """
                    SELECT COUNT(*) AS "all", COUNT(*) FILTER (WHERE "source" IS NOT DISTINCT FROM \(challenge.source)) AS "fromSource"
                    FROM passkey_challenges WHERE "ceremony" = \(PasskeyChallenge.Ceremony.authentication.rawValue)
                    """,
                    logger
                ).first
                let all: Int = try row?.get("all") ?? 0
                let fromSource: Int = try row?.get("fromSource") ?? 0
                guard fromSource < perSource, all < limit else { return false }
            }
            try await connection.query(challenge.insert, logger: logger)
            return true
        }
    }

    public func takePasskeyChallenge(tokenHash: String, now: Date) async throws -> PasskeyChallenge? {
        guard
            let row = try await read(
                #"DELETE FROM passkey_challenges WHERE "tokenHash" = \#(tokenHash) RETURNING *"#
            ).first
        else { return nil }
        let challenge = try PasskeyChallenge(row: row)
        return challenge.expiresAt > now ? challenge : nil
    }

    public func insertPasskey(_ passkey: Passkey, limit: Int, audit: AuditEvent, mails: [OutboxMail]) async throws
        -> Bool
    {
        let insert = try passkey.insert()
        return try await write { connection, logger in
            guard try await connection.countOwned(.passkeys, userId: passkey.userId, logger) < limit else {
                return false
            }
            guard
                try await connection.all(
                    "SELECT 1 FROM passkeys WHERE \"credentialID\" = \(passkey.credentialID)",
                    logger
                ).isEmpty
            else { throw StoreError.duplicate(field: "credentialID") }
            try await connection.query(insert, logger: logger)
            try await connection.query(audit.insert, logger: logger)
            for mail in mails { try await connection.query(mail.insert, logger: logger) }
            return true
        }
    }

    public func passkeys(userId: String) async throws -> [Passkey] {
        try await read("SELECT * FROM passkeys WHERE \"userId\" = \(userId) ORDER BY \"createdAt\", \"id\"").map(
            Passkey.init(row:)
        )
    }

    public func passkey(credentialID: String) async throws -> Passkey? {
        try await read("SELECT * FROM passkeys WHERE \"credentialID\" = \(credentialID)").first.map(Passkey.init(row:))
    }

    public func advancePasskeyCounter(id: String, from old: Int, to new: Int, backedUp: Bool) async throws -> Bool {
        try await read(
            """
            UPDATE passkeys SET "counter" = \(new), "backedUp" = \(backedUp) WHERE "id" = \(id) AND "counter" = \(old)
            RETURNING "id"
            """
        ).count > 0
    }

    public func renamePasskey(id: String, userId: String, name: String) async throws -> Passkey? {
        try await read(
            #"UPDATE passkeys SET "name" = \#(name) WHERE "id" = \#(id) AND "userId" = \#(userId) RETURNING *"#
        ).first.map(Passkey.init(row:))
    }

    public func deletePasskey(id: String, userId: String, audit: AuditEvent) async throws -> Bool {
        try await write { connection, logger in
            try await connection.deleteOwned(.passkeys, id: id, userId: userId, audit: [audit], logger)
        }
    }
}
