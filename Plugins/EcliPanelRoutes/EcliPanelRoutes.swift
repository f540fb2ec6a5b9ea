import GatehouseCore
import Hummingbird

/// `routes.eclipanel`: the EcliPanel-style surface (CONTRACT §4).
public struct EcliPanelRoutes: RouteModule {
    public static let id = "routes.eclipanel"

    public init(config: ConfigSection) throws {}

    public static func mount(on router: RouterGroup<GatehouseContext>, core: Core) {
        let users = router.group("api/users")

        // `me` is an alias for the caller. Staff and admins may read anyone; others only themselves.
        users.get(":id") { _, context in
            let principal = try context.requirePrincipal()
            let id = try context.parameters.require("id")
            let user: User
            if id == "me" || id == principal.user.id {
                user = principal.user
            } else {
                guard principal.user.role.canReadUsers else { throw GatehouseError.forbidden("Forbidden") }
                guard let found = try await core.accounts.user(id: id) else {
                    throw GatehouseError.notFound("User not found")
                }
                user = found
            }
            return JSONReply(ProfileView.json(user, settings: core.settings))
        }
    }
}
