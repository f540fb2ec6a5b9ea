/// A part of a surface the operator can switch off with `features.<name>` (its routes then
/// answer 404). The module that serves a feature declares it (`GatehouseModule.features`); the
/// host reads `features.<name>` for every declared one, so a flag no module declares is an
/// unknown key, and a feature asked for that no module declared counts as off.
public struct Feature: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    /// On unless the config says otherwise.
    public let defaultOn: Bool

    public init(_ name: String, defaultOn: Bool = true) {
        self.name = name
        self.defaultOn = defaultOn
    }

    public var description: String { name }

    /// API keys: the core authenticates them (`Authorization: Bearer gk_...`, `X-API-Key`)
    /// while this is on, so the core declares it (a route module issues the keys).
    public static let apiKeys = Feature("apiKeys")

    /// The features the core itself serves.
    public static let core = [apiKeys]
}

/// The feature switches in force: `features.<name>` of every declared feature.
public struct FeatureSwitches: Sendable, Equatable {
    let values: [String: Bool]

    public init(_ values: [String: Bool]) { self.values = values }

    /// Whether `feature` is on; off when no module declared it.
    public func isOn(_ feature: Feature) -> Bool { values[feature.name] ?? false }

    /// Whether some loaded module declared `feature`.
    public func isDeclared(_ feature: Feature) -> Bool { values[feature.name] != nil }
}
