import Foundation
import Logging
import PostgresNIO

/// Brings a PostgreSQL database's schema up to date: each migration of `PostgresMigrations` not
/// yet applied, in order, each in its own transaction with its row in `schema_migrations`. The
/// whole run holds a session-level advisory lock, so of several processes starting together one
/// migrates and the others wait, then find nothing left to do. The lock goes with the
/// connection if the process dies.
enum PostgresSchema {
    /// The advisory lock's key: "gatehous" as eight bytes.
    static let lockKey: Int64 = 0x6761_7465_686F_7573

    static func migrate(
        client: PostgresClient,
        logger: Logger,
        whileLocked: @escaping @Sendable () async throws -> Void
    ) async throws {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
            do {
                try await applyMissing(on: connection, logger: logger)
                try await whileLocked()
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
        }
    }

    static func applyMissing(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                "seq" bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
                "name" text PRIMARY KEY,
                "appliedAt" timestamptz NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
        try await connection.query(
            #"CREATE TABLE IF NOT EXISTS gatehouse_settings ("name" text PRIMARY KEY, "value" text NOT NULL)"#,
            logger: logger
        )
        let applied = Set(
            try await connection.all("SELECT \"name\" FROM schema_migrations", logger).map {
                try $0["name"].decode(String.self)
            }
        )
        for migration in PostgresMigrations.all where !applied.contains(migration.name) {
            try await connection.withTransaction(logger: logger) { connection in
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (\"name\") VALUES (\(migration.name))",
                    logger: logger
                )
            }
            logger.info("migrated: \(migration.name)")
        }
    }
}
