import GatehouseCore

/// The modules a host can load: handed in by whoever starts it (the executable's standard list,
/// or a test's own). The host and the core know modules only through this list.
public struct ModuleRegistry: Sendable {
    public let all: [any GatehouseModule.Type]

    public init(_ modules: [any GatehouseModule.Type]) {
        self.all = modules
    }

    /// Loaded when the config names none: every route and policy module.
    public var defaultModules: [String] {
        all.filter { $0.kind == .routes || $0.kind == .policy }.map { $0.id }
    }

    public func type(id: String) -> (any GatehouseModule.Type)? {
        all.first { $0.id == id }
    }

    /// The mail providers' names (`mail.<name>`).
    public var mailProviders: [String] {
        all.compactMap { ($0 as? any MailProvider.Type)?.providerName }
    }
}
