import AuthRoutes
import EcliPanelRoutes
import GatehouseCore
import Mailers
import Policies
import ServerRoutes
import StellarStackRoutes

/// Every module that exists. The config's `modules:` list says which of them load, in order.
/// Adding a module: one new file or folder under `Plugins/`, and one line here.
public enum Registry {
    public static let all: [any GatehouseModule.Type] = [
        AuthRoutes.self,
        EcliPanelRoutes.self,
        StellarStackRoutes.self,
        ServerRoutes.self,
        FeatureFlags.self,
        GeoblockPolicy.self,
        PasswordPolicy.self,
        AgePolicy.self,
        RateLimitPolicy.self,
        LogMailer.self,
        SMTPMailer.self,
        ResendMailer.self,
        SendGridMailer.self,
    ]

    /// Loaded when the config names none: every route and policy module.
    public static var defaultModules: [String] {
        all.filter { $0.kind == .routes || $0.kind == .policy }.map { $0.id }
    }

    public static func type(id: String) -> (any GatehouseModule.Type)? {
        all.first { $0.id == id }
    }
}
