import GRDB

/// The schema, as an ordered list of migrations. Append; never edit one that has shipped.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-users-sessions") { db in
            try db.create(table: "users") { t in
                t.primaryKey("id", .text)
                t.column("email", .text).notNull().unique().collate(.nocase)
                t.column("passwordHash", .text).notNull()
                t.column("firstName", .text).notNull()
                t.column("lastName", .text).notNull()
                t.column("displayName", .text)
                t.column("role", .text).notNull().defaults(to: "user")
                t.column("portalType", .text).notNull().defaults(to: "free")
                t.column("emailVerified", .boolean).notNull().defaults(to: false)
                t.column("twoFactorEnabled", .boolean).notNull().defaults(to: false)
                t.column("suspended", .boolean).notNull().defaults(to: false)
                t.column("settings", .text).notNull().defaults(to: "{}")
                t.column("address", .text)
                t.column("billingCity", .text)
                t.column("billingState", .text)
                t.column("billingZip", .text)
                t.column("billingCountry", .text)
                t.column("dateOfBirth", .text)
                t.column("avatarUrl", .text)
                t.column("createdAt", .datetime).notNull().indexed()
                t.column("updatedAt", .datetime).notNull()
            }
            try db.create(table: "sessions") { t in
                t.primaryKey("id", .text)
                t.column("userId", .text).notNull().references("users", onDelete: .cascade)
                t.column("tokenHash", .text).notNull().unique()
                t.column("createdAt", .datetime).notNull()
                t.column("lastSeenAt", .datetime).notNull()
                t.column("expiresAt", .datetime).notNull().indexed()
                t.column("ip", .text)
                t.column("userAgent", .text)
            }
            try db.create(index: "sessions_by_user", on: "sessions", columns: ["userId", "createdAt"])
        }
        migrator.registerMigration("v2-mail-outbox") { db in
            try db.create(table: "mail_outbox") { t in
                t.primaryKey("id", .text)
                t.column("to", .text).notNull()
                t.column("subject", .text).notNull()
                t.column("text", .text).notNull()
                t.column("html", .text).notNull()
                t.column("status", .text).notNull().defaults(to: "pending")
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("nextAttemptAt", .datetime).notNull()
                t.column("lastError", .text)
                t.column("messageId", .text)
                t.column("createdAt", .datetime).notNull()
                t.column("sentAt", .datetime)
            }
            try db.create(index: "mail_outbox_due", on: "mail_outbox", columns: ["status", "nextAttemptAt"])
        }
        migrator.registerMigration("v3-email-verifications") { db in
            try db.create(table: "email_verifications") { t in
                t.primaryKey("id", .text)
                t.column("userId", .text).notNull().indexed().references("users", onDelete: .cascade)
                t.column("tokenHash", .text).notNull().unique()
                t.column("codeHash", .text).notNull()
                t.column("expiresAt", .datetime).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("createdAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v4-password-resets") { db in
            try db.create(table: "password_resets") { t in
                t.primaryKey("id", .text)
                t.column("userId", .text).notNull().indexed().references("users", onDelete: .cascade)
                t.column("tokenHash", .text).notNull().unique()
                t.column("expiresAt", .datetime).notNull()
                t.column("createdAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v5-audit-two-factor") { db in
            try db.create(table: "audit_events") { t in
                t.primaryKey("id", .text)
                t.column("kind", .text).notNull()
                // Kept when the user is deleted: the record outlives the account.
                t.column("userId", .text).indexed()
                t.column("actorId", .text)
                t.column("ip", .text)
                t.column("detail", .text).notNull().defaults(to: "{}")
                t.column("createdAt", .datetime).notNull().indexed()
            }
            try db.create(table: "two_factor") { t in
                t.primaryKey("userId", .text).references("users", onDelete: .cascade)
                t.column("sealedSecret", .text).notNull()
                t.column("enabled", .boolean).notNull().defaults(to: false)
                t.column("lastUsedStep", .integer)
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "backup_codes") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("userId", .text).notNull().indexed().references("users", onDelete: .cascade)
                t.column("codeHash", .text).notNull()
                t.column("usedAt", .datetime)
            }
            try db.create(table: "login_challenges") { t in
                t.primaryKey("id", .text)
                t.column("userId", .text).notNull().indexed().references("users", onDelete: .cascade)
                t.column("tokenHash", .text).notNull().unique()
                t.column("expiresAt", .datetime).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("createdAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v6-api-keys-ssh-keys") { db in
            try db.create(table: "api_keys") { t in
                t.primaryKey("id", .text)
                t.column("userId", .text).notNull().indexed().references("users", onDelete: .cascade)
                t.column("name", .text).notNull()
                t.column("prefix", .text).notNull()
                t.column("keyHash", .text).notNull().unique()
                t.column("createdAt", .datetime).notNull()
                t.column("lastUsedAt", .datetime)
                t.column("expiresAt", .datetime)
            }
            try db.create(table: "ssh_keys") { t in
                t.primaryKey("id", .text)
                t.column("userId", .text).notNull().indexed().references("users", onDelete: .cascade)
                t.column("name", .text).notNull()
                t.column("type", .text).notNull()
                t.column("fingerprint", .text).notNull().indexed()
                t.column("publicKey", .text).notNull()
                t.column("createdAt", .datetime).notNull()
                t.uniqueKey(["userId", "fingerprint"])
            }
        }
        migrator.registerMigration("v7-servers") { db in
            try db.create(table: "servers") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("status", .text).notNull()
                // RESTRICT: an owner cannot be deleted from under their servers.
                t.column("ownerId", .text).notNull().indexed().references("users", onDelete: .restrict)
                t.column("nodeDisplayName", .text)
                t.column("createdAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v8-trusted-devices-codes-email-changes") { db in
            // Browsers that skip the second factor for a while: a token's hash, the account,
            // when it ends.
            try db.create(table: "trusted_devices") { t in
                t.primaryKey("tokenHash", .text)
                t.column("userId", .text).notNull().indexed().references("users", onDelete: .cascade)
                t.column("expiresAt", .datetime).notNull()
                t.column("createdAt", .datetime).notNull()
            }
            // Codes mailed for a sign-in's second step.
            try db.create(table: "login_codes") { t in
                t.primaryKey("challengeId", .text).references("login_challenges", onDelete: .cascade)
                t.column("codeHash", .text).notNull()
                t.column("expiresAt", .datetime).notNull()
            }
            // Changes of address, asked for without the password, waiting for their link.
            try db.create(table: "email_changes") { t in
                t.primaryKey("tokenHash", .text)
                t.column("userId", .text).notNull().indexed().references("users", onDelete: .cascade)
                t.column("newEmail", .text).notNull()
                t.column("stage", .text).notNull()
                t.column("expiresAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v9-session-impersonation") { db in
            // The admin acting as the session's user (their deletion ends the impersonation),
            // and the admin's own session it began from.
            try db.alter(table: "sessions") { t in
                t.add(column: "impersonatedBy", .text).references("users", onDelete: .cascade)
                t.add(column: "impersonatorSessionId", .text)
            }
        }
        migrator.registerMigration("v10-passkeys") { db in
            // WebAuthn credentials that sign their account in.
            try db.create(table: "passkeys") { t in
                t.primaryKey("id", .text)
                t.column("userId", .text).notNull().indexed().references("users", onDelete: .cascade)
                t.column("name", .text)
                t.column("credentialID", .text).notNull().unique()
                t.column("publicKey", .blob).notNull()
                t.column("counter", .integer).notNull()
                t.column("deviceType", .text).notNull()
                t.column("backedUp", .boolean).notNull()
                t.column("transports", .text).notNull()
                t.column("aaguid", .text).notNull()
                t.column("createdAt", .datetime).notNull()
            }
            // Challenges of ceremonies under way: the hash of the cookie's token, used once.
            try db.create(table: "passkey_challenges") { t in
                t.primaryKey("tokenHash", .text)
                t.column("ceremony", .text).notNull()
                t.column("challenge", .text).notNull()
                t.column("userId", .text).indexed().references("users", onDelete: .cascade)
                t.column("source", .text).indexed()
                t.column("expiresAt", .datetime).notNull().indexed()
            }
        }
        migrator.registerMigration("v11-outbox-template") { db in
            // Which template a mail was made from, for the admins' view of the outbox.
            try db.alter(table: "mail_outbox") { t in t.add(column: "template", .text) }
        }
        migrator.registerMigration("v12-user-list-index-and-count") { db in
            // The admin list's order, so a page reads `limit` rows instead of sorting them all;
            // the role, for the count of rootAdmins.
            try db.create(index: "users_by_created", on: "users", columns: ["createdAt", "id"])
            try db.drop(index: "users_on_createdAt")  // the new one serves every use of it
            try db.create(index: "users_by_role", on: "users", columns: ["role"])
            // How many users there are, kept by triggers, so a list's total is not a COUNT(*)
            // over the whole table on every request.
            try db.create(table: "counters") { t in
                t.primaryKey("name", .text)
                t.column("value", .integer).notNull()
            }
            try db.execute(
                sql: """
                    INSERT INTO counters (name, value) SELECT 'users', COUNT(*) FROM users;
                    CREATE TRIGGER users_counted_in AFTER INSERT ON users
                        BEGIN UPDATE counters SET value = value + 1 WHERE name = 'users'; END;
                    CREATE TRIGGER users_counted_out AFTER DELETE ON users
                        BEGIN UPDATE counters SET value = value - 1 WHERE name = 'users'; END;
                    """
            )
        }
        return migrator
    }
}
