import HTTPTypes
import Hummingbird

/// What a module is: its id's first component (`routes.example` is a route module).
public enum ModuleKind: String, Sendable {
    case routes
    case policy
    case mail
}

/// A loadable piece of Gatehouse, named by a namespaced id and listed in the host's registry.
///
/// A module instance is built from a validated config: once at start and again on every reload,
/// so an instance is an immutable value and a reload swaps instances whole. Reading the config
/// in `init` is also its validation: throw the `ConfigIssue` of the section's `issue(_:_:)`.
public protocol GatehouseModule: Sendable {
    /// Namespaced id: `routes.*`, `policy.*` or `mail.*`.
    static var id: String { get }
    /// Other names for this module's keys in the environment (another product's variables
    /// that operators already set), read below the `GATEHOUSE_` names. Default: none.
    static var environmentAliases: [EnvironmentAlias] { get }
    /// The features this module serves, which `features.<name>` switches. Default: none.
    static var features: [Feature] { get }
    /// Reads this module's settings from the root of the config and validates them.
    init(config: ConfigSection) throws
}

/// A module that needs more than its settings to serve: a file opened, a list read. Every
/// registered module reads and checks its section on every load, in `init`, and must not touch
/// anything else there; `provisioned()` runs only for the modules the config loads (and the
/// mail provider in use), after every section has been read, and returns the instance that
/// serves. Throw a `ConfigIssue` naming the key. What it holds is let go with the instance
/// (a reload replaces it; a class's `deinit` closes a file).
public protocol Provisioning: GatehouseModule {
    func provisioned() throws -> Self
}

/// An environment variable that stands for a config key: `MAILER_HOST` for `mail.example.host`.
public struct EnvironmentAlias: Sendable {
    public var name: String
    public var key: String
    /// Turns the variable's value into the key's (nil: taken as it is).
    public var value: (@Sendable (String) -> String)?

    public init(_ name: String, for key: String, value: (@Sendable (String) -> String)? = nil) {
        self.name = name
        self.key = key
        self.value = value
    }
}

extension GatehouseModule {
    public static var environmentAliases: [EnvironmentAlias] { [] }
    public static var features: [Feature] { [] }

    public static var kind: ModuleKind? {
        id.split(separator: ".").first.flatMap { ModuleKind(rawValue: String($0)) }
    }
}

/// A whole API surface.
///
/// `mount` runs once at start. Handlers reach the module's current instance (the one built
/// from the config in force) through `core.module(Self.self)`, and every rule through the core's
/// services: a route module translates HTTP to service calls and back, and holds no rule.
public protocol RouteModule: GatehouseModule {
    static func mount(on router: RouterGroup<GatehouseContext>, core: Core)
}

/// A module whose clients expect errors in a shape of their own on some paths (a client
/// library's `{code, message}`, say), including the errors raised before its handlers run (the
/// cross-site check, an unknown route). Asked by the outermost error handler; the first loaded
/// module that answers shapes the error.
public protocol ErrorShaping: GatehouseModule {
    /// The error as this module's clients expect it, when `request` is to one of its paths;
    /// nil otherwise.
    func shape(_ error: GatehouseError, for request: Request) -> GatehouseError?
}

/// A module that defines a cookie of its own that carries a session token (a client library's
/// cookie, say). The authentication middleware reads the core's cookie, `Authorization: Bearer`
/// and `X-API-Key` itself, and asks each loaded `CookieAuthenticator` after its own cookie;
/// a request so authenticated gets the same cross-site checks as one with the core's cookie.
public protocol CookieAuthenticator: GatehouseModule {
    /// The session tokens in this module's cookies, in the order to try them (none: empty).
    func sessionTokens(in request: Request, core: Core) -> [String]
}

/// The points at which the core asks the policy chain.
public enum DecisionPoint: String, Sendable, CaseIterable {
    case register
    /// May a sign-in start at all (feature flags, a lockout already in force)?
    case login
    /// A password or second-factor code of the account `email` is about to be checked (a
    /// sign-in, or a confirmation of a sensitive change). A lockout reserves the attempt here,
    /// atomically, so that however many arrive at once only as many are checked as it allows;
    /// the outcome follows as `PolicyEvent.loginFailed` or `.credentialPassed`.
    case credentialCheck
    /// A password-reset mail for `email` is about to be queued (requested from `clientIP`).
    case passwordResetMail
    /// A new verification mail for `email` is about to be queued.
    case verificationMail
    case passwordSet
    case request
    /// A route of an optional feature (`PolicyInput.feature`).
    case feature
}

/// What a decision is about, beyond the request's facts: a payload typed by decision point.
public enum PolicySubject: Sendable {
    case none
    /// A new account (`.register`): what its form says of the person.
    case registration(dateOfBirth: String?, billingCountry: String?)
    /// A password about to be set (`.passwordSet`), for the account `PolicyInput.email`.
    case password(String)
    /// An optional feature (`.feature`).
    case feature(Feature)
}

/// What a policy gets to decide on: the decision point, the request's facts, the account it
/// concerns (`email`, when there is one) and the point's own payload (`subject`).
public struct PolicyInput: Sendable {
    public var point: DecisionPoint
    /// The client's address (after trusted-proxy handling).
    public var clientIP: String?
    public var principal: Principal?
    /// The account the decision concerns (sign-in, a credential check, a mail, a new account).
    public var email: String?
    public var subject: PolicySubject
    /// The request's headers, at `.register` (a country header, for instance).
    public var headers: HTTPFields
    /// Whether the request came through a proxy listed in `server.trustedProxies`; only then
    /// are headers a proxy sets (a country header) believed.
    public var viaTrustedProxy: Bool

    public init(
        point: DecisionPoint,
        clientIP: String? = nil,
        principal: Principal? = nil,
        email: String? = nil,
        subject: PolicySubject = .none,
        headers: HTTPFields = [:],
        viaTrustedProxy: Bool = false
    ) {
        self.point = point
        self.clientIP = clientIP
        self.principal = principal
        self.email = email
        self.subject = subject
        self.headers = headers
        self.viaTrustedProxy = viaTrustedProxy
    }

    /// A `.feature` decision about `feature`.
    public static func feature(_ feature: Feature, principal: Principal? = nil) -> PolicyInput {
        PolicyInput(point: .feature, principal: principal, subject: .feature(feature))
    }
}

public enum PolicyDecision: Sendable, Equatable {
    case allow
    /// Allow, and add these headers to the response (e.g. `X-RateLimit-Remaining`).
    case allowWithHeaders(HTTPFields)
    /// Refuse, with the error the client gets (status, message, headers).
    case deny(GatehouseError)
}

/// Something that happened that a policy may count (failed sign-ins for a lockout).
public enum PolicyEvent: Sendable, Equatable {
    /// A password or code was wrong (its `.credentialCheck` reservation stays counted).
    case loginFailed(email: String)
    /// A sign-in finished: the failure count starts again.
    case loginSucceeded(email: String)
    /// A password or code was right but the sign-in is not finished (a second factor is owed,
    /// or it confirmed a change): its `.credentialCheck` reservation is given back.
    case credentialPassed(email: String)
}

/// A rule consulted at the decision points, in the order the config lists the policies.
/// An instance lives until the next reload: counters that must last longer live in
/// `core.moduleState`.
public protocol PolicyModule: GatehouseModule {
    func decide(_ input: PolicyInput, core: Core) async -> PolicyDecision
    /// Told of events; the default ignores them.
    func record(_ event: PolicyEvent, core: Core) async
}

extension PolicyModule {
    public func record(_ event: PolicyEvent, core: Core) async {}
}
