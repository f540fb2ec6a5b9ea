import AuthRoutes
import EcliPanelRoutes
import GatehouseCore
import Mailers
import OperationsRoutes
import Policies
import ServerRoutes
import StellarStackRoutes

/// The modules that ship with Gatehouse. The executable hands this list to the host, which
/// knows no module by name; the config's `modules:` says which of them load, in order.
/// Adding a module: a folder under `Plugins/` (or a file in one), and one line here.
public enum StandardModules {
    public static let all: [any GatehouseModule.Type] = [
        AuthRoutes.self,
        EcliPanelRoutes.self,
        StellarStackRoutes.self,
        ServerRoutes.self,
        OperationsRoutes.self,
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
}
