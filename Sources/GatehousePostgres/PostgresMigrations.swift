/// The schema on PostgreSQL: the same tables, columns and migration names as the SQLite store's
/// (`GatehouseStore/Migrations.swift`), in PostgreSQL's words. Identifiers are quoted, so they
/// keep SQLite's camelCase names. Times are `timestamptz`, counts `bigint`, flags `boolean`;
/// JSON stays text (its bytes, keys sorted, as the SQLite store keeps them). Where SQLite relied
/// on the rowid for the order of insertion, a `seq` identity column stands in. Append; never
/// edit one that has shipped.
enum PostgresMigrations {
    /// Each migration: its name (as SQLite names it) and its statements, run in one transaction.
    static let all: [(name: String, statements: [String])] = [
        (
            "v1-users-sessions",
            [
                """
                    CREATE TABLE users (
                        "id" text PRIMARY KEY,
                        "email" text NOT NULL,
                        "passwordHash" text NOT NULL,
                        "firstName" text NOT NULL,
                        "lastName" text NOT NULL,
                        "displayName" text,
                        "role" text NOT NULL DEFAULT 'user',
                        "portalType" text NOT NULL DEFAULT 'free',
                        "emailVerified" boolean NOT NULL DEFAULT false,
                        "twoFactorEnabled" boolean NOT NULL DEFAULT false,
                        "suspended" boolean NOT NULL DEFAULT false,
                        "settings" text NOT NULL DEFAULT '{}',
                        "address" text,
                        "billingCity" text,
                        "billingState" text,
                        "billingZip" text,
                        "billingCountry" text,
                        "dateOfBirth" text,
                        "avatarUrl" text,
                        "createdAt" timestamptz NOT NULL,
                        "updatedAt" timestamptz NOT NULL
                    )
                """,
                // SQLite's COLLATE NOCASE folds ASCII letters only; so does this.
                #"CREATE UNIQUE INDEX users_email ON users (lower("email" COLLATE "C"))"#,
                """
                    CREATE TABLE sessions (
                        "id" text PRIMARY KEY,
                        "userId" text NOT NULL REFERENCES users ("id") ON DELETE CASCADE,
                        "tokenHash" text NOT NULL UNIQUE,
                        "createdAt" timestamptz NOT NULL,
                        "lastSeenAt" timestamptz NOT NULL,
                        "expiresAt" timestamptz NOT NULL,
                        "ip" text,
                        "userAgent" text
                    )
                """,
                #"CREATE INDEX sessions_on_expiresAt ON sessions ("expiresAt")"#,
                #"CREATE INDEX sessions_by_user ON sessions ("userId", "createdAt")"#,
            ]
        ),
        (
            "v2-mail-outbox",
            [
                """
                    CREATE TABLE mail_outbox (
                        "seq" bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
                        "id" text PRIMARY KEY,
                        "to" text NOT NULL,
                        "subject" text NOT NULL,
                        "text" text NOT NULL,
                        "html" text NOT NULL,
                        "status" text NOT NULL DEFAULT 'pending',
                        "attempts" bigint NOT NULL DEFAULT 0,
                        "nextAttemptAt" timestamptz NOT NULL,
                        "lastError" text,
                        "messageId" text,
                        "createdAt" timestamptz NOT NULL,
                        "sentAt" timestamptz
                    )
                """,
                #"CREATE INDEX mail_outbox_due ON mail_outbox ("status", "nextAttemptAt")"#,
            ]
        ),
        (
            "v3-email-verifications",
            [
                """
                    CREATE TABLE email_verifications (
                        "id" text PRIMARY KEY,
                        "userId" text NOT NULL REFERENCES users ("id") ON DELETE CASCADE,
                        "tokenHash" text NOT NULL UNIQUE,
                        "codeHash" text NOT NULL,
                        "expiresAt" timestamptz NOT NULL,
                        "attempts" bigint NOT NULL DEFAULT 0,
                        "createdAt" timestamptz NOT NULL
                    )
                """,
                #"CREATE INDEX email_verifications_on_userId ON email_verifications ("userId")"#,
            ]
        ),
        (
            "v4-password-resets",
            [
                """
                    CREATE TABLE password_resets (
                        "id" text PRIMARY KEY,
                        "userId" text NOT NULL REFERENCES users ("id") ON DELETE CASCADE,
                        "tokenHash" text NOT NULL UNIQUE,
                        "expiresAt" timestamptz NOT NULL,
                        "createdAt" timestamptz NOT NULL
                    )
                """,
                #"CREATE INDEX password_resets_on_userId ON password_resets ("userId")"#,
            ]
        ),
        (
            "v5-audit-two-factor",
            [
                """
                    CREATE TABLE audit_events (
                        "seq" bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
                        "id" text PRIMARY KEY,
                        "kind" text NOT NULL,
                        -- Kept when the user is deleted: the record outlives the account.
                        "userId" text,
                        "actorId" text,
                        "ip" text,
                        "detail" text NOT NULL DEFAULT '{}',
                        "createdAt" timestamptz NOT NULL
                    )
                """,
                #"CREATE INDEX audit_events_on_userId ON audit_events ("userId")"#,
                #"CREATE INDEX audit_events_on_createdAt ON audit_events ("createdAt")"#,
                """
                    CREATE TABLE two_factor (
                        "userId" text PRIMARY KEY REFERENCES users ("id") ON DELETE CASCADE,
                        "sealedSecret" text NOT NULL,
                        "enabled" boolean NOT NULL DEFAULT false,
                        "lastUsedStep" bigint,
                        "createdAt" timestamptz NOT NULL
                    )
                """,
                """
                    CREATE TABLE backup_codes (
                        "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        "userId" text NOT NULL REFERENCES users ("id") ON DELETE CASCADE,
                        "codeHash" text NOT NULL,
                        "usedAt" timestamptz
                    )
                """,
                #"CREATE INDEX backup_codes_on_userId ON backup_codes ("userId")"#,
                """
                    CREATE TABLE login_challenges (
                        "id" text PRIMARY KEY,
                        "userId" text NOT NULL REFERENCES users ("id") ON DELETE CASCADE,
                        "tokenHash" text NOT NULL UNIQUE,
                        "expiresAt" timestamptz NOT NULL,
                        "attempts" bigint NOT NULL DEFAULT 0,
                        "createdAt" timestamptz NOT NULL
                    )
                """,
                #"CREATE INDEX login_challenges_on_userId ON login_challenges ("userId")"#,
            ]
        ),
        (
            "v6-api-keys-ssh-keys",
            [
                """
                    CREATE TABLE api_keys (
                        "id" text PRIMARY KEY,
                        "userId" text NOT NULL REFERENCES users ("id") ON DELETE CASCADE,
                        "name" text NOT NULL,
                        "prefix" text NOT NULL,
                        "keyHash" text NOT NULL UNIQUE,
                        "createdAt" timestamptz NOT NULL,
                        "lastUsedAt" timestamptz,
                        "expiresAt" timestamptz
                    )
                """,
                #"CREATE INDEX api_keys_on_userId ON api_keys ("userId")"#,
                """
                    CREATE TABLE ssh_keys (
                        "id" text PRIMARY KEY,
                        "userId" text NOT NULL REFERENCES users ("id") ON DELETE CASCADE,
                        "name" text NOT NULL,
                        "type" text NOT NULL,
                        "fingerprint" text NOT NULL,
                        "publicKey" text NOT NULL,
                        "createdAt" timestamptz NOT NULL,
                        UNIQUE ("userId", "fingerprint")
                    )
                """,
                #"CREATE INDEX ssh_keys_on_fingerprint ON ssh_keys ("fingerprint")"#,
            ]
        ),
        (
            "v7-servers",
            [
                """
                    CREATE TABLE servers (
                        "id" text PRIMARY KEY,
                        "name" text NOT NULL,
                        "status" text NOT NULL,
                        -- RESTRICT: an owner cannot be deleted from under their servers.
                        "ownerId" text NOT NULL REFERENCES users ("id") ON DELETE RESTRICT,
                        "nodeDisplayName" text,
                        "createdAt" timestamptz NOT NULL
                    )
                """,
                #"CREATE INDEX servers_on_ownerId ON servers ("ownerId")"#,
            ]
        ),
        (
            "v8-trusted-devices-codes-email-changes",
            [
                """
                    CREATE TABLE trusted_devices (
                        "tokenHash" text PRIMARY KEY,
                        "userId" text NOT NULL REFERENCES users ("id") ON DELETE CASCADE,
                        "expiresAt" timestamptz NOT NULL,
                        "createdAt" timestamptz NOT NULL
                    )
                """,
                #"CREATE INDEX trusted_devices_on_userId ON trusted_devices ("userId")"#,
                """
                    CREATE TABLE login_codes (
                        "challengeId" text PRIMARY KEY REFERENCES login_challenges ("id") ON DELETE CASCADE,
                        "codeHash" text NOT NULL,
                        "expiresAt" timestamptz NOT NULL
                    )
                """,
                """
                    CREATE TABLE email_changes (
                        "tokenHash" text PRIMARY KEY,
                        "userId" text NOT NULL REFERENCES users ("id") ON DELETE CASCADE,
                        "newEmail" text NOT NULL,
                        "stage" text NOT NULL,
                        "expiresAt" timestamptz NOT NULL
                    )
                """,
                #"CREATE INDEX email_changes_on_userId ON email_changes ("userId")"#,
            ]
        ),
        (
            "v9-session-impersonation",
            [
                #"ALTER TABLE sessions ADD COLUMN "impersonatedBy" text REFERENCES users ("id") ON DELETE CASCADE"#,
                #"ALTER TABLE sessions ADD COLUMN "impersonatorSessionId" text"#,
            ]
        ),
        (
            "v10-passkeys",
            [
                """
                    CREATE TABLE passkeys (
                        "id" text PRIMARY KEY,
                        "userId" text NOT NULL REFERENCES users ("id") ON DELETE CASCADE,
                        "name" text,
                        "credentialID" text NOT NULL UNIQUE,
                        "publicKey" bytea NOT NULL,
                        "counter" bigint NOT NULL,
                        "deviceType" text NOT NULL,
                        "backedUp" boolean NOT NULL,
                        "transports" text NOT NULL,
                        "aaguid" text NOT NULL,
                        "createdAt" timestamptz NOT NULL
                    )
                """,
                #"CREATE INDEX passkeys_on_userId ON passkeys ("userId")"#,
                """
                    CREATE TABLE passkey_challenges (
                        "tokenHash" text PRIMARY KEY,
                        "ceremony" text NOT NULL,
                        "challenge" text NOT NULL,
                        "userId" text REFERENCES users ("id") ON DELETE CASCADE,
                        "source" text,
                        "expiresAt" timestamptz NOT NULL
                    )
                """,
                #"CREATE INDEX passkey_challenges_on_userId ON passkey_challenges ("userId")"#,
                #"CREATE INDEX passkey_challenges_on_source ON passkey_challenges ("source")"#,
                #"CREATE INDEX passkey_challenges_on_expiresAt ON passkey_challenges ("expiresAt")"#,
            ]
        ),
        (
            "v11-outbox-template",
            [
                #"ALTER TABLE mail_outbox ADD COLUMN "template" text"#
            ]
        ),
        (
            "v12-user-list-index-and-count",
            [
                #"CREATE INDEX users_by_created ON users ("createdAt", "id")"#,
                #"CREATE INDEX users_by_role ON users ("role")"#,
                #"CREATE TABLE counters ("name" text PRIMARY KEY, "value" bigint NOT NULL)"#,
                #"INSERT INTO counters ("name", "value") SELECT 'users', COUNT(*) FROM users"#,
                """
                    CREATE FUNCTION users_counted() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        UPDATE counters SET "value" = "value" + (CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END)
                            WHERE "name" = 'users';
                        RETURN NULL;
                    END $$;
                """,
                """
                    CREATE TRIGGER users_counted AFTER INSERT OR DELETE ON users
                        FOR EACH ROW EXECUTE FUNCTION users_counted()
                """,
            ]
        ),
        // What only PostgreSQL needs, for several processes on one database.
        (
            "pg1-outbox-lease",
            [
                // Until when a claimed mail belongs to the process that claimed it.
                #"ALTER TABLE mail_outbox ADD COLUMN "claimedUntil" timestamptz"#
            ]
        ),
        (
            "pg2-shared-rate-limits",
            [
                // Rate-limit windows and sign-in locks, shared by every process (see
                // `PostgresRateLimits`). UNLOGGED: short-lived, not worth a WAL write.
                """
                    CREATE UNLOGGED TABLE rate_limits (
                        "key" text PRIMARY KEY,
                        "count" bigint NOT NULL,
                        "resetAt" timestamptz NOT NULL,
                        "lockedUntil" timestamptz
                    )
                """,
                // Takes one of `lim` slots of the key's window (NULL), or says when to try again.
                """
                    CREATE FUNCTION gatehouse_reserve(k text, lim bigint, now timestamptz, next_reset timestamptz)
                    RETURNS timestamptz LANGUAGE plpgsql AS $$
                    DECLARE
                        r rate_limits%ROWTYPE;
                    BEGIN
                        -- The key's row, locked (made if missing; made again if a reset took it
                        -- between the two statements).
                        LOOP
                            INSERT INTO rate_limits ("key", "count", "resetAt") VALUES (k, 0, now)
                                ON CONFLICT ("key") DO NOTHING;
                            SELECT * INTO r FROM rate_limits WHERE "key" = k FOR UPDATE;
                            EXIT WHEN FOUND;
                        END LOOP;
                        IF r."lockedUntil" > now THEN
                            RETURN r."lockedUntil";
                        END IF;
                        IF r."resetAt" <= now THEN
                            r."count" := 0;
                            r."resetAt" := next_reset;
                        END IF;
                        IF r."count" >= lim THEN
                            UPDATE rate_limits SET "count" = r."count", "resetAt" = r."resetAt" WHERE "key" = k;
                            RETURN r."resetAt";
                        END IF;
                        UPDATE rate_limits SET "count" = r."count" + 1, "resetAt" = r."resetAt" WHERE "key" = k;
                        RETURN NULL;
                    END $$
                """,
                // Locks the key until `until`; false when a lock was in force already.
                """
                    CREATE FUNCTION gatehouse_lock(k text, until timestamptz, now timestamptz)
                    RETURNS boolean LANGUAGE plpgsql AS $$
                    DECLARE
                        held timestamptz;
                    BEGIN
                        LOOP
                            INSERT INTO rate_limits ("key", "count", "resetAt") VALUES (k, 0, now)
                                ON CONFLICT ("key") DO NOTHING;
                            SELECT "lockedUntil" INTO held FROM rate_limits WHERE "key" = k FOR UPDATE;
                            EXIT WHEN FOUND;
                        END LOOP;
                        IF held > now THEN
                            RETURN false;
                        END IF;
                        UPDATE rate_limits SET "lockedUntil" = until WHERE "key" = k;
                        RETURN true;
                    END $$
                """,
            ]
        ),
        (
            "pg3-user-count-deltas",
            [
                // The count of users kept as a row of changes per insert or delete, folded into
                // `counters` by the hourly sweep: one row every registration updated made any
                // two concurrent ones conflict (SERIALIZABLE), and all but one start again.
                #"CREATE TABLE user_count_deltas ("delta" bigint NOT NULL)"#,
                """
                    CREATE OR REPLACE FUNCTION users_counted() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        INSERT INTO user_count_deltas ("delta") VALUES (CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END);
                        RETURN NULL;
                    END $$
                """,
            ]
        ),
    ]
}
