import Foundation
import GatehouseCore
import PostgresNIO

// Servers, the admins' user lists and deletions, and the audit log.

extension PostgresStore {
    // MARK: Servers

    public func insertServer(_ server: Server) async throws {
        try await write { connection, logger in
            guard !(try await connection.all("SELECT 1 FROM users WHERE \"id\" = \(server.ownerId)", logger).isEmpty)
            else { throw StoreError.notFound }
            try await connection.query(server.insert, logger: logger)
        }
    }

    public func server(id: String) async throws -> Server? {
        try await read("SELECT * FROM servers WHERE \"id\" = \(id)").first.map(Server.init(row:))
    }

    public func servers(ownerId: String) async throws -> [Server] {
        try await read(
            "SELECT * FROM servers WHERE \"ownerId\" = \(ownerId) ORDER BY \"createdAt\" DESC, \"id\" DESC"
        ).map(Server.init(row:))
    }

    public func serverCounts(ownerIds: [String]) async throws -> [String: Int] {
        guard !ownerIds.isEmpty else { return [:] }
        let rows = try await read(
            """
            SELECT "ownerId", COUNT(*) AS n FROM servers WHERE "ownerId" = ANY(\(ownerIds)::text[]) GROUP BY "ownerId"
            """
        )
        return Dictionary(uniqueKeysWithValues: try rows.map { (try $0.get("ownerId"), try $0.get("n")) })
    }

    public func transferServer(id: String, to ownerId: String) async throws -> Server {
        try await write { connection, logger in
            guard !(try await connection.all("SELECT 1 FROM users WHERE \"id\" = \(ownerId)", logger).isEmpty),
                let row = try await connection.all(
                    #"UPDATE servers SET "ownerId" = \#(ownerId) WHERE "id" = \#(id) RETURNING *"#,
                    logger
                ).first
            else { throw StoreError.notFound }
            return try Server(row: row)
        }
    }

    public func deleteServer(id: String) async throws -> Bool {
        try await read(#"DELETE FROM servers WHERE "id" = \#(id) RETURNING "id""#).count > 0
    }

    // MARK: Users, as admins list them

    /// The display name, as the SQLite store orders and searches by it.
    static let nameExpression = #"COALESCE(NULLIF("displayName", ''), "firstName" || ' ' || "lastName")"#

    public func users(matching query: UserQuery) async throws -> (users: [User], total: Int) {
        var pattern: String?
        var searchColumn = #"lower("email" COLLATE "C")"#
        if let search = query.search {
            // LIKE with its wildcards escaped: the value is matched as typed (ignoring ASCII case).
            let escaped = search.value.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            pattern =
                switch search.match {
                case .contains: "%\(escaped)%"
                case .startsWith: "\(escaped)%"
                case .endsWith: "%\(escaped)"
                }
            if search.field != .email { searchColumn = "lower(\(Self.nameExpression) COLLATE \"C\")" }
        }
        let roles = query.roles?.map(\.rawValue)
        let key =
            switch query.sortBy {
            case .createdAt: #""createdAt""#
            case .updatedAt: #""updatedAt""#
            case .email: #"lower("email" COLLATE "C")"#
            case .name: "\(Self.nameExpression) COLLATE \"C\""
            }
        let direction = query.descending ? "DESC" : "ASC"
        // The column and the order are chosen from the fixed texts above; every value is bound.
        let users = try await read(
            """
            SELECT * FROM users
            WHERE (\(pattern)::text IS NULL OR \(unescaped: searchColumn) LIKE lower(\(pattern) COLLATE "C") ESCAPE '\\')
                AND (\(roles)::text[] IS NULL OR "role" = ANY(\(roles)::text[]))
            ORDER BY \(unescaped: key) \(unescaped: direction), "id" \(unescaped: direction)
            LIMIT \(query.limit) OFFSET \(query.offset)
            """
        ).map(User.init(row:))
        // Unfiltered, the kept count answers; a search has to count what it matches.
        guard pattern != nil || roles != nil else { return (users, try await userCount()) }
        let total: Int =
            try await read(
                """
                SELECT COUNT(*) AS n FROM users
                WHERE (\(pattern)::text IS NULL OR \(unescaped: searchColumn) LIKE lower(\(pattern) COLLATE "C") ESCAPE '\\')
                    AND (\(roles)::text[] IS NULL OR "role" = ANY(\(roles)::text[]))
                """
            ).first?.get("n") ?? 0
        return (users, total)
    }

    /// Walks the index on (createdAt, id) from the top, or from `before` (see the SQLite store).
    public func users(limit: Int, offset: Int, before: String?) async throws -> (users: [User], total: Int) {
        if let before {
            guard !(try await read("SELECT 1 FROM users WHERE \"id\" = \(before)").isEmpty) else {
                throw StoreError.notFound
            }
        }
        let users = try await read(
            """
            SELECT * FROM users
            WHERE \(before)::text IS NULL OR ("createdAt", "id") < (SELECT "createdAt", "id" FROM users WHERE "id" = \(before))
            ORDER BY "createdAt" DESC, "id" DESC LIMIT \(limit) OFFSET \(offset)
            """
        ).map(User.init(row:))
        return (users, try await userCount())
    }

    public func deleteUser(id: String, audit: AuditEvent) async throws {
        try await accountWrite(userId: id) { connection, logger in
            guard let row = try await connection.all("SELECT \"role\" FROM users WHERE \"id\" = \(id)", logger).first
            else { throw UserDeletionRefusal.notFound }
            guard try await connection.all("SELECT 1 FROM servers WHERE \"ownerId\" = \(id) LIMIT 1", logger).isEmpty
            else { throw UserDeletionRefusal.ownsServers }
            if try row.get("role", as: String.self) == Role.rootAdmin.rawValue {
                let rootAdmins: Int =
                    try await connection.all(
                        "SELECT COUNT(*) AS n FROM users WHERE \"role\" = \(Role.rootAdmin.rawValue)",
                        logger
                    ).first?.get("n") ?? 0
                if rootAdmins <= 1 { throw UserDeletionRefusal.lastRootAdmin }
            }
            // Sessions, keys, 2FA data, verifications and resets go by ON DELETE CASCADE.
            try await connection.query("DELETE FROM users WHERE \"id\" = \(id)", logger: logger)
            try await connection.query(audit.insert, logger: logger)
        }
    }

    // MARK: Audit

    public func recordAudit(_ event: AuditEvent) async throws {
        _ = try await read(event.insert)
    }

    public func deleteAuditEvents(before cutoff: Date) async throws -> Int {
        try await read(#"DELETE FROM audit_events WHERE "createdAt" < \#(cutoff) RETURNING "seq""#).count
    }

    public func auditEvents(userId: String?, limit: Int) async throws -> [AuditEvent] {
        try await auditEvents(AuditQuery(userId: userId, limit: limit))
    }

    public func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent] {
        let kind = query.kind?.rawValue
        // seq: the order of insertion, which createdAt cannot tell within one microsecond.
        return try await read(
            """
            SELECT * FROM audit_events
            WHERE (\(query.userId)::text IS NULL OR "userId" = \(query.userId))
                AND (\(kind)::text IS NULL OR "kind" = \(kind))
                AND (\(query.actorId)::text IS NULL OR "actorId" = \(query.actorId))
                AND (\(query.before)::text IS NULL OR "seq" < (SELECT "seq" FROM audit_events WHERE "id" = \(query.before)))
            ORDER BY "seq" DESC LIMIT \(query.limit)
            """
        ).map(AuditEvent.init(row:))
    }
}
