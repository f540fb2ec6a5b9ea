import GatehouseCore
import Hummingbird

/// `routes.servers` (CONTRACT §6): who owns which server. The panel keeps the servers
/// themselves; Gatehouse keeps ownership, so that an owner cannot be deleted from under them.
public struct ServerRoutes: RouteModule {
    public static let id = "routes.servers"

    public init(config: ConfigSection) throws {}

    struct CreateRequest: Decodable {
        var name: String
        var ownerId: String
        var status: String?
        var nodeDisplayName: String?
    }

    struct TransferRequest: Decodable {
        var ownerId: String
    }

    public static func mount(on router: RouterGroup<GatehouseContext>, core: Core) {
        router.get("api/servers") { _, context in
            let principal = try context.requirePrincipal()
            return JSONReply(.array(try await core.servers.owned(by: principal.user.id).map { ServerView.json($0) }))
        }

        let admin = router.group("api/admin/servers")
        admin.post { request, context in
            let principal = try context.requireAdmin()
            let body = try await request.decodeJSON(CreateRequest.self, context: context)
            let server = try await core.servers.create(
                name: body.name,
                ownerId: body.ownerId,
                status: body.status,
                nodeDisplayName: body.nodeDisplayName,
                by: principal
            )
            return JSONReply(ServerView.json(server, owner: true), status: .created)
        }

        admin.post(":id/transfer") { request, context in
            let principal = try context.requireAdmin()
            let body = try await request.decodeJSON(TransferRequest.self, context: context)
            let server = try await core.servers.transfer(
                id: try context.parameters.require("id"),
                to: body.ownerId,
                by: principal
            )
            return JSONReply(ServerView.json(server, owner: true))
        }

        admin.delete(":id") { _, context in
            let principal = try context.requirePrincipal()
            try await core.servers.delete(id: try context.parameters.require("id"), by: principal)
            return JSONReply(.success)
        }
    }
}
