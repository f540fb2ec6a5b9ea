import Foundation
import GRDB
import GatehouseCore

/// A row of `servers`.
struct ServerRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "servers"

    var id: String
    var name: String
    var status: String
    var ownerId: String
    var nodeDisplayName: String?
    var createdAt: Date

    init(_ server: Server) {
        (id, name, status, ownerId) = (server.id, server.name, server.status, server.ownerId)
        (nodeDisplayName, createdAt) = (server.nodeDisplayName, server.createdAt)
    }

    var server: Server {
        Server(
            id: id,
            name: name,
            status: status,
            ownerId: ownerId,
            nodeDisplayName: nodeDisplayName,
            createdAt: createdAt
        )
    }
}

extension SQLiteStore {
    public func insertServer(_ server: Server) async throws {
        try await pool.write { db in
            guard try UserRecord.exists(db, key: server.ownerId) else { throw StoreError.notFound }
            try ServerRecord(server).insert(db)
        }
    }

    public func server(id: String) async throws -> Server? {
        try await pool.read { db in try ServerRecord.fetchOne(db, key: id)?.server }
    }

    public func servers(ownerId: String) async throws -> [Server] {
        try await pool.read { db in
            try ServerRecord.filter(Column("ownerId") == ownerId)
                .order(Column("createdAt").desc, Column("id").desc)
                .fetchAll(db).map(\.server)
        }
    }

    public func serverCounts(ownerIds: [String]) async throws -> [String: Int] {
        guard !ownerIds.isEmpty else { return [:] }
        return try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT ownerId, COUNT(*) AS count FROM servers
                    WHERE ownerId IN (\(databaseQuestionMarks(count: ownerIds.count))) GROUP BY ownerId
                    """,
                arguments: StatementArguments(ownerIds)
            )
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["ownerId"] as String, $0["count"] as Int) })
        }
    }

    public func transferServer(id: String, to ownerId: String) async throws -> Server {
        try await pool.write { db in
            guard var record = try ServerRecord.fetchOne(db, key: id), try UserRecord.exists(db, key: ownerId) else {
                throw StoreError.notFound
            }
            record.ownerId = ownerId
            try record.update(db)
            return record.server
        }
    }

    public func deleteServer(id: String) async throws -> Bool {
        try await pool.write { db in try ServerRecord.deleteOne(db, key: id) }
    }

    public func users(limit: Int, offset: Int) async throws -> (users: [User], total: Int) {
        try await pool.read { db in
            let users = try UserRecord.order(Column("createdAt").desc, Column("id").desc)
                .limit(limit, offset: offset)
                .fetchAll(db).map { try $0.user }
            return (users, try UserRecord.fetchCount(db))
        }
    }

    public func deleteUser(id: String, audit: AuditEvent) async throws {
        try await accountWrite(userId: id) { db in
            guard let user = try UserRecord.fetchOne(db, key: id) else { throw UserDeletionRefusal.notFound }
            guard try ServerRecord.filter(Column("ownerId") == id).fetchCount(db) == 0 else {
                throw UserDeletionRefusal.ownsServers
            }
            if user.role == Role.rootAdmin.rawValue,
                try UserRecord.filter(Column("role") == Role.rootAdmin.rawValue).fetchCount(db) <= 1
            {
                throw UserDeletionRefusal.lastRootAdmin
            }
            // Sessions, keys, 2FA data, verifications and resets go by ON DELETE CASCADE.
            try UserRecord.deleteOne(db, key: id)
            try AuditRecord(audit).insert(db)
        }
    }
}
