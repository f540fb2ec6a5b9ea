import Foundation

/// Server ownership (CONTRACT §6): creating, transferring and deleting servers, admins only.
public struct Servers: Sendable {
    let core: Core

    public static let notFound = GatehouseError.notFound("Server not found")

    public func create(name: String, ownerId: String, status: String?, nodeDisplayName: String?, by actor: Principal)
        async throws -> Server
    {
        guard actor.user.role.isAdmin else { throw GatehouseError.adminRequired }
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        var issues: [FieldIssue] = []
        if let issue = Validate.name(name, field: "name") { issues.append(issue) }
        if let status, let issue = Self.status(status) { issues.append(issue) }
        if let nodeDisplayName, let issue = Validate.name(nodeDisplayName, field: "nodeDisplayName") {
            issues.append(issue)
        }
        guard issues.isEmpty else { throw GatehouseError.validation(issues) }
        try await requireManagesOwner(ownerId, actor)
        let server = Server(
            name: name,
            status: status ?? "offline",
            ownerId: ownerId,
            nodeDisplayName: nodeDisplayName?.trimmingCharacters(in: .whitespacesAndNewlines)
        )
        do {
            try await core.store.insertServer(server)
        } catch StoreError.notFound {
            throw GatehouseError.validation(field: "ownerId", "no user has this id")
        }
        return server
    }

    public func transfer(id: String, to ownerId: String, by actor: Principal) async throws -> Server {
        guard actor.user.role.isAdmin else { throw GatehouseError.adminRequired }
        guard let server = try await core.store.server(id: id) else { throw Self.notFound }
        try await requireManagesOwner(server.ownerId, actor)
        try await requireManagesOwner(ownerId, actor)
        do {
            return try await core.store.transferServer(id: id, to: ownerId)
        } catch StoreError.notFound {
            throw GatehouseError.validation(field: "ownerId", "no user has this id")
        }
    }

    public func delete(id: String, by actor: Principal) async throws {
        guard actor.user.role.isAdmin else { throw GatehouseError.adminRequired }
        guard let server = try await core.store.server(id: id) else { throw Self.notFound }
        try await requireManagesOwner(server.ownerId, actor)
        guard try await core.store.deleteServer(id: id) else { throw Self.notFound }
    }

    /// A server's owner is part of their account: the role hierarchy holds for it too (an admin
    /// may not take a rootAdmin's server, nor pin one on an admin to block their deletion).
    func requireManagesOwner(_ ownerId: String, _ actor: Principal) async throws {
        guard let owner = try await core.store.user(id: ownerId) else { return }
        try Accounts.requireManages(actor, owner)
    }

    public func owned(by userId: String) async throws -> [Server] {
        try await core.store.servers(ownerId: userId)
    }

    /// How many servers each of `ownerIds` owns (absent: none).
    public func counts(ownerIds: [String]) async throws -> [String: Int] {
        try await core.store.serverCounts(ownerIds: ownerIds)
    }

    /// A status word: 1 to 32 letters, digits, `_` or `-`.
    static func status(_ value: String) -> FieldIssue? {
        let valid =
            !value.isEmpty && value.count <= 32
            && value.unicodeScalars.allSatisfy {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-")
            }
        return valid ? nil : FieldIssue(field: "status", message: "must be 1 to 32 letters, digits, _ or -")
    }
}

extension Core {
    public var servers: Servers { Servers(core: self) }
}
