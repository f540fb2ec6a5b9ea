import Foundation
import HTTPTypes
import Logging
import Synchronization

/// Everything that a config load produced: the core's settings and the module instances, in
/// the order the config lists them. Swapped whole on reload.
public struct Runtime: Sendable {
    public let settings: CoreSettings
    public let modules: [any GatehouseModule]
    /// The provider `mail.provider` names.
    public let mailer: any MailProvider
    /// `features.<name>` of every feature the registered modules declare.
    public let features: FeatureSwitches

    public init(
        settings: CoreSettings,
        modules: [any GatehouseModule],
        mailer: any MailProvider,
        features: FeatureSwitches
    ) {
        self.settings = settings
        self.modules = modules
        self.mailer = mailer
        self.features = features
        self.policies = modules.compactMap { $0 as? any PolicyModule }
    }

    /// The policy modules, in order (found once: every request asks).
    public let policies: [any PolicyModule]

    public func module<M: GatehouseModule>(_ type: M.Type) -> M? {
        modules.lazy.compactMap { $0 as? M }.first
    }
}

/// The core: the store, the services that hold every rule, and the runtime now in force.
/// Modules get this object and nothing else.
public final class Core: Sendable {
    public let store: any GatehouseStore
    public let passwords: PasswordHasher
    /// The server's own key: seals TOTP secrets, hashes backup codes.
    public let secretKey: SecretKey
    public let logger: Logger
    /// Wakes the outbox worker when mail is queued.
    public let outboxNudge = Nudge()
    /// What modules keep across reloads (a rate limiter's counters), by key.
    public let moduleState = ModuleStatePool()
    /// The service's numbers (`GatehouseMetrics`).
    public let metrics: GatehouseMetrics
    private let current: Mutex<Runtime>

    public init(
        store: any GatehouseStore,
        runtime: Runtime,
        secretKey: SecretKey,
        logger: Logger,
        metrics: GatehouseMetrics = GatehouseMetrics()
    ) {
        self.store = store
        self.secretKey = secretKey
        self.logger = logger
        self.metrics = metrics
        self.current = Mutex(runtime)
        self.passwords = PasswordHasher(
            parameters: runtime.settings.passwordHashing.argon2,
            limits: runtime.settings.passwordHashing.limits,
            metrics: metrics
        )
    }

    /// The runtime built from the config now in force.
    public var runtime: Runtime { current.withLock { $0 } }

    /// Installs a runtime built from a newly validated config.
    public func install(_ runtime: Runtime) { current.withLock { $0 = runtime } }

    public var settings: CoreSettings { runtime.settings }

    /// The current instance of a loaded module. Route handlers call this for their settings.
    public func module<M: GatehouseModule>(_ type: M.Type) -> M? { runtime.module(type) }

    public var sessions: Sessions {
        Sessions(store: store, settings: { [weak self] in self?.settings.sessions ?? .default })
    }

    public var accounts: Accounts { Accounts(core: self) }
    public var signIns: SignIns { SignIns(core: self) }
    public var registrations: Registrations { Registrations(core: self) }
    public var profiles: Profiles { Profiles(core: self) }
    public var accountAdmin: AccountAdmin { AccountAdmin(core: self) }
    public var twoFactor: TwoFactor { TwoFactor(core: self) }
    public var passwordResets: PasswordResets { PasswordResets(core: self) }
    public var emailChanges: EmailChanges { EmailChanges(core: self) }

    public var mail: MailService { MailService(core: self) }

    /// Asks every loaded policy, in config order; throws the first refusal, else returns the
    /// headers the policies want on the response.
    @discardableResult
    public func checkPolicies(_ input: PolicyInput) async throws -> HTTPFields {
        var headers = HTTPFields()
        for policy in runtime.policies {
            switch await policy.decide(input, core: self) {
            case .allow: continue
            case .allowWithHeaders(let more): headers.append(contentsOf: more)
            case .deny(let error): throw error
            }
        }
        return headers
    }

    /// Tells every loaded policy of an event.
    public func recordPolicyEvent(_ event: PolicyEvent) async {
        for policy in runtime.policies { await policy.record(event, core: self) }
    }
}
