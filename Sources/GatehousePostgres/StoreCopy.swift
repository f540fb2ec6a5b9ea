import Foundation
import GatehouseCore
import GatehouseStore
import Logging
import PostgresNIO

/// Why `gatehouse copy-store` stopped before copying.
public struct StoreCopyRefused: Error, CustomStringConvertible {
    public let description: String
}

extension PostgresStore {
    /// Copies every table of the SQLite store `source` into this database, in one transaction:
    /// all of it or nothing. The target must be migrated and empty (it is refused otherwise),
    /// and takes the server key at `keyFile` (the SQLite installation's) as its own. Rows keep
    /// their ids and their order of insertion; each table's count is checked against the
    /// source's before the commit. Returns each table's count. The source must not change
    /// meanwhile (the caller holds its serving lock).
    public func copy(
        from source: SQLiteStore,
        keyFile: String,
        progress: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) async throws -> [(table: String, rows: Int)] {
        guard FileManager.default.fileExists(atPath: keyFile) else {
            throw StoreCopyRefused(description: "the key file \(keyFile) does not exist: copy it with the database")
        }
        _ = try await migrateAndLoadKey(keyFile: keyFile)
        let tables = SQLiteStore.dataTables
        return try await client.withTransaction(logger: logger) { connection in
            let logger = self.logger
            // No process may write meanwhile (and none should be running on the target).
            for table in tables {
                try await connection.query("LOCK TABLE \(unescaped: table) IN EXCLUSIVE MODE", logger: logger)
            }
            for table in tables
            where !(try await connection.all("SELECT 1 FROM \(unescaped: table) LIMIT 1", logger).isEmpty) {
                throw StoreCopyRefused(description: "the target database is not empty (\(table) has rows)")
            }
            var counts: [(table: String, rows: Int)] = []
            for table in tables {
                let copied = try await Self.copyTable(table, from: source, on: connection, logger)
                let expected = try await source.rowCount(of: table)
                let found: Int =
                    try await connection.all("SELECT COUNT(*) AS n FROM \(unescaped: table)", logger).first?.get("n")
                    ?? -1
                guard copied == expected, found == expected else {
                    throw StoreCopyRefused(
                        description: "\(table): \(expected) rows in the source, \(found) in the copy; nothing was kept"
                    )
                }
                progress(table, found)
                counts.append((table, found))
            }
            // The kept count of users (kept by the trigger as the rows went in), checked too.
            let kept: Int = try await connection.all(Self.userCountQuery, logger).first?.get("n") ?? -1
            guard kept == counts.first(where: { $0.table == "users" })?.rows else {
                throw StoreCopyRefused(description: "the count of users is \(kept) after the copy; nothing was kept")
            }
            return counts
        }
    }

    /// Copies one table in pages of rows, each page one INSERT with every value bound. The
    /// column names come from this database's own schema; `seq` (the order of insertion) takes
    /// SQLite's rowid, so lists read in the same order as before.
    static func copyTable(
        _ table: String,
        from source: SQLiteStore,
        on connection: PostgresConnection,
        _ logger: Logger
    ) async throws -> Int {
        var columns: [(name: String, kind: StoredKind)] = []
        var takesRowid = false
        for row in try await connection.all(
            """
            SELECT column_name::text AS name, data_type::text AS type FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = \(table) ORDER BY ordinal_position
            """,
            logger
        ) {
            let name: String = try row.get("name")
            let type: String = try row.get("type")
            // Columns only PostgreSQL has: the order of insertion, and the outbox's leases.
            if name == "seq" {
                takesRowid = true
                continue
            }
            if name == "claimedUntil" { continue }
            let kind: StoredKind =
                switch type {
                case "bigint": .integer
                case "boolean": .boolean
                case "timestamp with time zone": .date
                case "bytea": .blob
                default: .text
                }
            columns.append((name, kind))
        }
        let names = (takesRowid ? ["seq"] : []) + columns.map(\.name)
        let quoted = names.map { "\"\($0)\"" }.joined(separator: ", ")
        let pageSize = max(1, 30_000 / names.count)
        var after: Int64 = 0
        var copied = 0
        while true {
            let page = try await source.rows(of: table, columns: columns, after: after, pageSize: pageSize)
            guard let last = page.last else { break }
            var bindings = PostgresBindings(capacity: page.count * names.count)
            var tuples: [String] = []
            tuples.reserveCapacity(page.count)
            for row in page {
                let start = bindings.count
                if takesRowid { bindings.append(row.rowid) }
                for value in row.values {
                    switch value {
                    case .null: bindings.appendNull()
                    case .text(let text): bindings.append(text)
                    case .integer(let number): bindings.append(number)
                    case .boolean(let flag): bindings.append(flag)
                    case .date(let date): bindings.append(date)
                    case .blob(let data): try bindings.append(data)
                    }
                }
                tuples.append("(" + (start + 1...bindings.count).map { "$\($0)" }.joined(separator: ", ") + ")")
            }
            // Identity columns (seq, backup_codes.id) take the source's values.
            let sql =
                "INSERT INTO \(table) (\(quoted)) OVERRIDING SYSTEM VALUE VALUES \(tuples.joined(separator: ", "))"
            try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
            copied += page.count
            after = last.rowid
        }
        // The identities go on after the copied values.
        for identity in ["seq", "id"] where names.contains(identity) && (identity == "seq" || table == "backup_codes") {
            try await connection.query(
                """
                SELECT setval(pg_get_serial_sequence(\(table), \(identity)),
                    COALESCE((SELECT MAX(\(unescaped: "\"\(identity)\"")) FROM \(unescaped: table)), 0) + 1, false)
                """,
                logger: logger
            )
        }
        return copied
    }
}
