import Foundation
import GatehouseCore
import Logging
import PostgresNIO

/// Rate-limit counters and sign-in lockouts in the shared database, so that every process
/// counts against the same windows: 30 wrong passwords spread over two processes still get at
/// most `maxFailures` checked. Each decision is one statement (an upsert, or a function that
/// locks the key's row), atomic whatever runs beside it. The table is UNLOGGED: a crash of the
/// database server forgets the counters (they are short-lived), in exchange for no WAL writes.
final class PostgresRateLimits: RateLimitStore {
    let client: PostgresClient
    let logger: Logger

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    private func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        var rows: [PostgresRandomAccessRow] = []
        for try await row in try await client.query(query, logger: logger) { rows.append(row.makeRandomAccess()) }
        return rows
    }

    func hit(_ key: String, window: TimeInterval, now: Date) async throws -> (count: Int, resetAt: Date) {
        let reset = now.addingTimeInterval(window)
        // Now and then, the windows and locks that ended go (one statement in a thousand).
        if Int.random(in: 0..<1000) == 0 { try await sweep(now: now) }
        guard
            let row = try await rows(
                """
                INSERT INTO rate_limits AS r ("key", "count", "resetAt") VALUES (\(key), 1, \(reset))
                ON CONFLICT ("key") DO UPDATE SET
                    "count" = CASE WHEN r."resetAt" <= \(now) THEN 1 ELSE r."count" + 1 END,
                    "resetAt" = CASE WHEN r."resetAt" <= \(now) THEN \(reset) ELSE r."resetAt" END
                RETURNING "count", "resetAt"
                """
            ).first
        else { throw NoRowReturned() }
        return (try row["count"].decode(Int.self), try row["resetAt"].decode(Date.self))
    }

    func reserve(_ key: String, limit: Int, window: TimeInterval, now: Date) async throws -> Date? {
        try await rows("SELECT gatehouse_reserve(\(key), \(limit), \(now), \(now.addingTimeInterval(window))) AS until")
            .first?["until"].decode(Date?.self)
    }

    func release(_ key: String, now: Date) async throws {
        _ = try await rows(
            #"UPDATE rate_limits SET "count" = "count" - 1 WHERE "key" = \#(key) AND "resetAt" > \#(now) AND "count" > 0"#
        )
    }

    func count(_ key: String, now: Date) async throws -> Int {
        try await rows(#"SELECT "count" FROM rate_limits WHERE "key" = \#(key) AND "resetAt" > \#(now)"#).first?[
            "count"
        ]
        .decode(Int.self) ?? 0
    }

    func lock(_ key: String, until: Date, now: Date) async throws -> Bool {
        try await rows("SELECT gatehouse_lock(\(key), \(until), \(now)) AS locked").first?["locked"].decode(Bool.self)
            ?? false
    }

    func lockedUntil(_ key: String, now: Date) async throws -> Date? {
        try await rows(
            #"SELECT "lockedUntil" FROM rate_limits WHERE "key" = \#(key) AND "lockedUntil" > \#(now)"#
        ).first?["lockedUntil"].decode(Date.self)
    }

    func reset(_ key: String, unlessLockedAt now: Date) async throws {
        _ = try await rows(
            #"""
            DELETE FROM rate_limits WHERE "key" = \#(key) AND ("lockedUntil" IS NULL OR "lockedUntil" <= \#(now))
            """#
        )
    }

    func sweep(now: Date) async throws {
        _ = try await rows(
            """
            DELETE FROM rate_limits WHERE "resetAt" <= \(now) AND ("lockedUntil" IS NULL OR "lockedUntil" <= \(now))
            """
        )
    }
}

/// A statement that always returns a row returned none.
struct NoRowReturned: Error {}
