import GatehouseCore

/// `policy.flags`: the operator's feature switches (`features.*`).
///
/// Registration and login (its own flags) are refused at their decision points while switched
/// off; a route of a feature a module declares is refused (404) while `features.<name>` is off,
/// and so is one of a feature no registered module declares.
public struct FeatureFlags: PolicyModule {
    public static let id = "policy.flags"

    public var registration: Bool
    public var login: Bool

    public init(config: ConfigSection) throws {
        let features = config.section("features")
        registration = try features.bool("registration", default: true)
        login = try features.bool("login", default: true)
    }

    public func decide(_ input: PolicyInput, core: Core) async -> PolicyDecision {
        switch input.point {
        case .register where !registration:
            return .deny(.unavailable("Registration is currently disabled"))
        case .login where !login:
            return .deny(.unavailable("Login is currently disabled"))
        case .feature:
            guard case .feature(let feature) = input.subject else { return .allow }
            if !core.runtime.features.isDeclared(feature) {
                core.logger.error("feature \(feature) is asked for but no registered module declares it")
            }
            // A switched-off feature's routes are not there.
            return core.runtime.features.isOn(feature) ? .allow : .deny(.notFound("Not found"))
        default:
            return .allow
        }
    }
}
