import Foundation
import GRDB
import GatehouseCore

/// A row of `servers`.
struct ServerRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "servers"

    enum Columns {
        static let id = Column("id")
        static let name = Column("name")
        static let status = Column("status")
        static let ownerId = Column("ownerId")
        static let nodeDisplayName = Column("nodeDisplayName")
        static let createdAt = Column("createdAt")
    }

    var server: Server

    init(_ server: Server) { self.server = server }

    init(row: Row) {
        typealias C = Columns
        server = Server(
            id: row[C.id],
            name: row[C.name],
            status: row[C.status],
            ownerId: row[C.ownerId],
            nodeDisplayName: row[C.nodeDisplayName],
            createdAt: row[C.createdAt]
        )
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.id] = server.id
        container[C.name] = server.name
        container[C.status] = server.status
        container[C.ownerId] = server.ownerId
        container[C.nodeDisplayName] = server.nodeDisplayName
        container[C.createdAt] = server.createdAt
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
            try ServerRecord.filter(ServerRecord.Columns.ownerId == ownerId)
                .order(ServerRecord.Columns.createdAt.desc, ServerRecord.Columns.id.desc)
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
            record.server.ownerId = ownerId
            try record.update(db)
            return record.server
        }
    }

    public func deleteServer(id: String) async throws -> Bool {
        try await pool.write { db in try ServerRecord.deleteOne(db, key: id) }
    }

    public func users(matching query: UserQuery) async throws -> (users: [User], total: Int) {
        typealias C = UserRecord.Columns
        let name = SQL(sql: "COALESCE(NULLIF(displayName, ''), firstName || ' ' || lastName)")
        var request = UserRecord.all()
        if let search = query.search {
            // LIKE with its wildcards escaped: the value is matched as typed (ignoring case).
            let escaped = search.value.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            let pattern =
                switch search.match {
                case .contains: "%\(escaped)%"
                case .startsWith: "\(escaped)%"
                case .endsWith: "%\(escaped)"
                }
            let column: any SQLSpecificExpressible = search.field == .email ? C.email : name.sqlExpression
            request = request.filter(column.like(pattern, escape: "\\"))
        }
        if let roles = query.roles { request = request.filter(roles.map(\.rawValue).contains(C.role)) }
        let key: any SQLSpecificExpressible =
            switch query.sortBy {
            case .createdAt: C.createdAt
            case .updatedAt: C.updatedAt
            case .email: C.email
            case .name: name.sqlExpression
            }
        let ordered = request.order(
            query.descending ? key.sqlExpression.desc : key.sqlExpression.asc,
            query.descending ? C.id.desc : C.id.asc
        )
        let matching = request
        return try await pool.read { db in
            let users = try ordered.limit(query.limit, offset: query.offset).fetchAll(db).map(\.user)
            // Unfiltered, the kept count answers; a search has to count what it matches.
            let total = query.search == nil && query.roles == nil ? try Self.userCount(db) : try matching.fetchCount(db)
            return (users, total)
        }
    }

    /// Walks the index on (createdAt, id) from the top, or from `before`: a page deep in the
    /// list by cursor costs what the first one costs. The total is the kept count.
    public func users(limit: Int, offset: Int, before: String?) async throws -> (users: [User], total: Int) {
        typealias C = UserRecord.Columns
        return try await pool.read { db in
            var request = UserRecord.order(C.createdAt.desc, C.id.desc)
            if let before {
                // After that user in this order. An id that names none (deleted since the page
                // before) is an error, not an empty page that would look like the list's end.
                guard try UserRecord.exists(db, key: before) else { throw StoreError.notFound }
                request = request.filter(
                    sql: "(createdAt, id) < (SELECT createdAt, id FROM users WHERE id = ?)",
                    arguments: [before]
                )
            }
            let users = try request.limit(limit, offset: offset).fetchAll(db).map(\.user)
            return (users, try Self.userCount(db))
        }
    }

    public func deleteUser(id: String, audit: AuditEvent) async throws {
        try await accountWrite(userId: id) { db in
            guard let user = try UserRecord.fetchOne(db, key: id) else { throw UserDeletionRefusal.notFound }
            guard try ServerRecord.filter(ServerRecord.Columns.ownerId == id).fetchCount(db) == 0 else {
                throw UserDeletionRefusal.ownsServers
            }
            if user.user.role == .rootAdmin,
                try UserRecord.filter(UserRecord.Columns.role == Role.rootAdmin.rawValue).fetchCount(db) <= 1
            {
                throw UserDeletionRefusal.lastRootAdmin
            }
            // Sessions, keys, 2FA data, verifications and resets go by ON DELETE CASCADE.
            try UserRecord.deleteOne(db, key: id)
            try AuditRecord(audit).insert(db)
        }
    }
}
