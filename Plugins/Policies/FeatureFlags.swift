import GatehouseCore

/// `policy.flags`: the operator's feature switches (`features.*`).
///
/// Registration and login are refused at their decision points while switched off; route
/// modules read the other flags through `core.module(FeatureFlags.self)`.
public struct FeatureFlags: PolicyModule {
    public static let id = "policy.flags"

    public var registration: Bool
    public var login: Bool
    public var twoFactor: Bool
    public var apiKeys: Bool
    public var sshKeys: Bool

    public init(config: ConfigSection) throws {
        let features = config.section("features")
        registration = try features.bool("registration", default: true)
        login = try features.bool("login", default: true)
        twoFactor = try features.bool("twoFactor", default: true)
        apiKeys = try features.bool("apiKeys", default: true)
        sshKeys = try features.bool("sshKeys", default: true)
    }

    public func decide(_ input: PolicyInput, core: Core) async -> PolicyDecision {
        switch input.point {
        case .register where !registration:
            return .deny(.unavailable("Registration is currently disabled"))
        case .login where !login:
            return .deny(.unavailable("Login is currently disabled"))
        case .feature:
            let on =
                switch input.feature {
                case "twoFactor": twoFactor
                case "apiKeys": apiKeys
                case "sshKeys": sshKeys
                default: true
                }
            // A switched-off feature's routes are not there.
            return on ? .allow : .deny(.notFound("Not found"))
        default:
            return .allow
        }
    }
}
