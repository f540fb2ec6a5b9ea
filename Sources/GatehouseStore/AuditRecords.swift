import Foundation
import GRDB
import GatehouseCore

/// A row of `audit_events`.
struct AuditRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "audit_events"

    enum Columns {
        static let id = Column("id")
        static let kind = Column("kind")
        static let userId = Column("userId")
        static let actorId = Column("actorId")
        static let ip = Column("ip")
        static let detail = Column("detail")
        static let createdAt = Column("createdAt")
    }

    var event: AuditEvent

    init(_ event: AuditEvent) { self.event = event }

    init(row: Row) throws {
        typealias C = Columns
        event = AuditEvent(
            try row.known(C.kind, of: Self.databaseTableName),
            userId: row[C.userId],
            actorId: row[C.actorId],
            ip: row[C.ip],
            detail: try row.jsonObject(C.detail, of: Self.databaseTableName),
            at: row[C.createdAt]
        )
        event.id = row[C.id]
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.id] = event.id
        container[C.kind] = event.kind.rawValue
        container[C.userId] = event.userId
        container[C.actorId] = event.actorId
        container[C.ip] = event.ip
        container[C.detail] = event.detail.storedText
        container[C.createdAt] = event.createdAt
    }
}

extension SQLiteStore {
    public func recordAudit(_ event: AuditEvent) async throws {
        try await pool.write { db in try AuditRecord(event).insert(db) }
    }

    public func deleteAuditEvents(before cutoff: Date) async throws -> Int {
        try await pool.write { db in try AuditRecord.filter(AuditRecord.Columns.createdAt < cutoff).deleteAll(db) }
    }

    public func auditEvents(userId: String?, limit: Int) async throws -> [AuditEvent] {
        try await pool.read { db in
            // rowid: the order of insertion, which createdAt cannot tell within one millisecond.
            var request = AuditRecord.order(Column.rowID.desc).limit(limit)
            if let userId { request = request.filter(AuditRecord.Columns.userId == userId) }
            return try request.fetchAll(db).map(\.event)
        }
    }

    public func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent] {
        typealias C = AuditRecord.Columns
        return try await pool.read { db in
            var request = AuditRecord.order(Column.rowID.desc).limit(query.limit)
            if let userId = query.userId { request = request.filter(C.userId == userId) }
            if let kind = query.kind { request = request.filter(C.kind == kind.rawValue) }
            if let actorId = query.actorId { request = request.filter(C.actorId == actorId) }
            if let before = query.before {
                // Older than that event; an id that names none gives an empty page.
                request = request.filter(
                    sql: "rowid < (SELECT rowid FROM audit_events WHERE id = ?)",
                    arguments: [before]
                )
            }
            return try request.fetchAll(db).map(\.event)
        }
    }
}

extension Database {
    /// Deletes the row `id` of `Record`'s table if it belongs to `userId` (its `userId` column),
    /// and records `audit` with it, in the caller's transaction. Says whether the row was there
    /// (nothing is recorded if not).
    func deleteOwned<Record: TableRecord>(_: Record.Type, id: String, userId: String, audit: [AuditEvent]) throws
        -> Bool
    {
        guard try Record.filter(Column("id") == id && Column("userId") == userId).deleteAll(self) > 0 else {
            return false
        }
        for event in audit { try AuditRecord(event).insert(self) }
        return true
    }
}
