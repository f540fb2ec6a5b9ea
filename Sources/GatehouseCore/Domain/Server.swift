import Foundation

/// A game server, as far as accounts care: who owns it. The panel keeps everything else.
public struct Server: Sendable, Equatable {
    public var id: String
    public var name: String
    public var status: String
    public var ownerId: String
    public var nodeDisplayName: String?
    public var createdAt: Date

    public init(
        id: String = Identifier.make(),
        name: String,
        status: String,
        ownerId: String,
        nodeDisplayName: String?,
        createdAt: Date = Date()
    ) {
        self.id = id
        self.name = name
        self.status = status
        self.ownerId = ownerId
        self.nodeDisplayName = nodeDisplayName
        self.createdAt = createdAt
    }
}

/// Why a user could not be deleted.
public enum UserDeletionRefusal: Error, Equatable, Sendable {
    case ownsServers
    case lastRootAdmin
    case notFound
}

/// Server ownership, and what depends on it: listing and deleting users.
public protocol ServerStore: Sendable {
    /// Inserts a server; throws `StoreError.notFound` when the owner does not exist.
    func insertServer(_ server: Server) async throws
    func server(id: String) async throws -> Server?
    /// A user's servers, newest first.
    func servers(ownerId: String) async throws -> [Server]
    /// Servers owned, per user id (users without servers are absent).
    func serverCounts(ownerIds: [String]) async throws -> [String: Int]
    /// Moves a server to another owner; throws `StoreError.notFound` for an unknown server or
    /// owner.
    func transferServer(id: String, to ownerId: String) async throws -> Server
    func deleteServer(id: String) async throws -> Bool

    /// Users, newest first (from just after the user `before` when given; throws
    /// `StoreError.notFound` when no user has that id), and how many there are in all.
    func users(limit: Int, offset: Int, before: String?) async throws -> (users: [User], total: Int)
    /// The users `query` picks, in its order and page, and how many it picks in all.
    func users(matching query: UserQuery) async throws -> (users: [User], total: Int)
    /// Deletes a user and everything that is theirs (sessions, API keys, SSH keys, 2FA data,
    /// pending verifications and resets), with the audit event, in one transaction; refused
    /// while they own servers or are the last rootAdmin (throws `UserDeletionRefusal`).
    func deleteUser(id: String, audit: AuditEvent) async throws
}
