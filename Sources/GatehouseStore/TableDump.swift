import Foundation
import GRDB
import GatehouseCore

/// A value of a stored column, as one store hands it to another (`gatehouse copy-store`).
package enum StoredValue: Sendable, Equatable {
    case null
    case text(String)
    case integer(Int64)
    case boolean(Bool)
    case date(Date)
    case blob(Data)
}

/// What a column holds, as the receiving store declares it: how to read SQLite's value.
package enum StoredKind: Sendable {
    case text, integer, boolean, date, blob
}

extension SQLiteStore {
    /// Every table that holds data, parents before children (the order a copy inserts in).
    package static let dataTables = [
        "users", "sessions", "mail_outbox", "email_verifications", "password_resets", "audit_events", "two_factor",
        "backup_codes", "login_challenges", "api_keys", "ssh_keys", "servers", "trusted_devices", "login_codes",
        "email_changes", "passkeys", "passkey_challenges",
    ]

    /// The rows of `table`, `columns` read as their kinds, in insertion order (the rowid), with
    /// the rowid itself first; in pages of `pageSize` after the rowid `after`.
    package func rows(
        of table: String,
        columns: [(name: String, kind: StoredKind)],
        after: Int64,
        pageSize: Int
    ) async throws -> [(rowid: Int64, values: [StoredValue])] {
        guard Self.dataTables.contains(table) else { throw StoreError.notFound }
        return try await pool.read { db in
            let names = columns.map { "\"\($0.name)\"" }.joined(separator: ", ")
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT rowid, \(names) FROM \(table) WHERE rowid > ? ORDER BY rowid LIMIT ?",
                arguments: [after, pageSize]
            )
            return try rows.map { row in
                let values = try columns.enumerated().map { index, column -> StoredValue in
                    let value = row[index + 1] as DatabaseValue
                    if value.isNull { return .null }
                    switch column.kind {
                    case .text: return .text(String.fromDatabaseValue(value) ?? "")
                    case .integer: return .integer(Int64.fromDatabaseValue(value) ?? 0)
                    case .boolean: return .boolean(Bool.fromDatabaseValue(value) ?? false)
                    case .blob: return .blob(Data.fromDatabaseValue(value) ?? Data())
                    case .date:
                        guard let date = Date.fromDatabaseValue(value) else {
                            throw StoreError.unknownValue(column: "\(table).\(column.name)", value: "\(value)")
                        }
                        return .date(date)
                    }
                }
                return (row[0] as Int64, values)
            }
        }
    }

    /// How many rows `table` holds.
    package func rowCount(of table: String) async throws -> Int {
        guard Self.dataTables.contains(table) else { throw StoreError.notFound }
        return try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 }
    }
}
