import Foundation
import GRDB
import GatehouseCore

/// A row of `audit_events`.
struct AuditRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "audit_events"

    var id: String
    var kind: String
    var userId: String?
    var actorId: String?
    var ip: String?
    var detail: String
    var createdAt: Date

    init(_ event: AuditEvent) {
        (id, kind, userId, actorId, ip, createdAt) = (
            event.id, event.kind.rawValue, event.userId, event.actorId, event.ip, event.createdAt
        )
        detail = JSONValue.object(event.detail.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }).jsonString
    }

    var event: AuditEvent? {
        guard let kind = AuditEvent.Kind(rawValue: kind) else { return nil }
        var event = AuditEvent(
            kind,
            userId: userId,
            actorId: actorId,
            ip: ip,
            detail: (try? JSONDecoder().decode([String: JSONValue].self, from: Data(detail.utf8))) ?? [:],
            at: createdAt
        )
        event.id = id
        return event
    }
}

extension SQLiteStore {
    public func recordAudit(_ event: AuditEvent) async throws {
        try await pool.write { db in try AuditRecord(event).insert(db) }
    }

    public func deleteAuditEvents(before cutoff: Date) async throws -> Int {
        try await pool.write { db in try AuditRecord.filter(Column("createdAt") < cutoff).deleteAll(db) }
    }

    public func auditEvents(userId: String?, limit: Int) async throws -> [AuditEvent] {
        try await pool.read { db in
            // rowid: the order of insertion, which createdAt cannot tell within one millisecond.
            var request = AuditRecord.order(Column.rowID.desc).limit(limit)
            if let userId { request = request.filter(Column("userId") == userId) }
            return try request.fetchAll(db).compactMap(\.event)
        }
    }
}
