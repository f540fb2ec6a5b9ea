import Foundation
import GatehouseCore
import HTTPTypes

/// `policy.ratelimit` (`policies.rateLimit.*`): registrations per address, password and code
/// checks per account (a lockout), mail on demand (reset and verification mails) per account
/// and per address, and a general limit per caller (principal, else address). Refusals are 429
/// with `Retry-After`; the general limit also reports `X-RateLimit-Limit/Remaining/Reset` on
/// every response.
public struct RateLimitPolicy: PolicyModule {
    public static let id = "policy.ratelimit"

    public struct Window: Sendable, Equatable {
        public var limit: Int
        public var seconds: Int
    }

    public let register: Window
    public let loginMaxFailures: Int
    public let loginWindow: Int
    public let loginLockout: Int
    public let general: Window
    /// The general limit counted in each process's memory instead of the shared database
    /// (PostgreSQL): no statement per request, but a caller spread over N processes gets N
    /// times the limit. The lockout and the registration and mail limits stay shared.
    public let generalPerProcess: Bool
    /// Reset mails per account, and requests for them per address.
    public let passwordReset: MailLimit
    /// Verification mails per account, and requests for them per address.
    public let verificationMail: MailLimit

    /// The counters and locks: the store's, shared by every process on it (PostgreSQL), else
    /// in memory, kept across reloads in the host's pool under this module's id.
    func limits(_ core: Core) -> any RateLimitStore {
        core.store.sharedRateLimits ?? core.moduleState.shared(Self.id) { InMemoryRateLimits() as any RateLimitStore }
    }

    /// The general limit's counters: the shared ones, unless counted per process.
    func generalLimits(_ core: Core) -> any RateLimitStore {
        generalPerProcess
            ? core.moduleState.shared(Self.id) { InMemoryRateLimits() as any RateLimitStore } : limits(core)
    }

    /// What a decision is when the counters cannot be reached (the shared database is down):
    /// refused for a moment, never let through uncounted.
    static let countersUnavailable = GatehouseError(
        .serviceUnavailable,
        "Server busy, try again shortly",
        headers: [.retryAfter: "2"]
    )

    public struct MailLimit: Sendable, Equatable {
        public var perAccount: Window
        public var perAddress: Window

        init(_ section: ConfigSection) throws {
            let seconds = try section.int("window", default: 3600, in: 60...86400 * 30)
            perAccount = Window(limit: try section.int("limit", default: 3, in: 1...10_000), seconds: seconds)
            perAddress = Window(
                limit: try section.int("perAddressLimit", default: 20, in: 1...1_000_000),
                seconds: seconds
            )
        }
    }

    public init(config: ConfigSection) throws {
        let section = config.section("policies.rateLimit")
        register = Window(
            limit: try section.int("register.limit", default: 5, in: 1...1_000_000),
            seconds: try section.int("register.window", default: 3600, in: 1...86400 * 30)
        )
        loginMaxFailures = try section.int("login.maxFailures", default: 5, in: 1...1000)
        loginWindow = try section.int("login.window", default: 900, in: 1...86400 * 30)
        loginLockout = try section.int("login.lockout", default: 900, in: 1...86400 * 30)
        general = Window(
            limit: try section.int("general.limit", default: 600, in: 1...10_000_000),
            seconds: try section.int("general.window", default: 60, in: 1...86400)
        )
        generalPerProcess = try section.bool("general.perProcess", default: false)
        passwordReset = try MailLimit(section.section("passwordReset"))
        verificationMail = try MailLimit(section.section("verificationMail"))
    }

    public func decide(_ input: PolicyInput, core: Core) async -> PolicyDecision {
        do {
            return try await decideCounting(input, core: core)
        } catch {
            core.logger.error("rate limits: the counters cannot be reached: \(error)")
            return .deny(Self.countersUnavailable)
        }
    }

    func decideCounting(_ input: PolicyInput, core: Core) async throws -> PolicyDecision {
        let now = Date()
        switch input.point {
        case .register:
            if let refusal = try await overLimit(
                "register:\(input.clientIP ?? "-")",
                register,
                "Too many registrations from this address, try again later",
                now: now,
                rateLimits: limits(core)
            ) {
                return .deny(refusal)
            }
            return .allow
        case .login:
            guard let email = input.email,
                let until = try await limits(core).lockedUntil(loginKey(email), now: now)
            else { return .allow }
            return .deny(lockedOut(until: until, now: now))
        case .credentialCheck:
            guard let email = input.email else { return .allow }
            return try await reserveCheck(loginKey(email), core: core)
        case .passwordResetMail:
            return try await mailDecision(
                passwordReset,
                kind: "password-reset",
                input: input,
                now: now,
                rateLimits: limits(core)
            )
        case .verificationMail:
            return try await mailDecision(
                verificationMail,
                kind: "verification",
                input: input,
                now: now,
                rateLimits: limits(core)
            )
        case .request:
            let caller = input.principal.map { "user:\($0.user.id)" } ?? "ip:\(input.clientIP ?? "-")"
            let (count, resetAt) = try await generalLimits(core).hit(
                "request:\(caller)",
                window: TimeInterval(general.seconds),
                now: now
            )
            if count > general.limit {
                return .deny(refusal("Too many requests, slow down", limit: general.limit, resetAt: resetAt, now: now))
            }
            return .allowWithHeaders(
                headers(limit: general.limit, remaining: general.limit - count, resetAt: resetAt, now: now)
            )
        case .passwordSet, .feature:
            return .allow
        }
    }

    public func record(_ event: PolicyEvent, core: Core) async {
        do {
            try await recordCounting(event, core: core)
        } catch {
            core.logger.error("rate limits: the counters cannot be reached: \(error)")
        }
    }

    func recordCounting(_ event: PolicyEvent, core: Core) async throws {
        switch event {
        case .loginFailed(let email):
            let now = Date()
            let count = try await limits(core).count(loginKey(email), now: now)
            if count >= loginMaxFailures,
                try await limits(core).lock(
                    loginKey(email),
                    until: now.addingTimeInterval(TimeInterval(loginLockout)),
                    now: now
                )
            {
                core.logger.warning("sign-in locked for \(loginLockout) s after \(count) failures")
                await core.accounts.recordSignInLocked(email: email, seconds: loginLockout)
            }
        case .loginSucceeded(let email):
            // Not while locked: a check reserved before the lock that ends well does not lift it.
            try await limits(core).reset(loginKey(email), unlessLockedAt: Date())
        case .credentialPassed(let email):
            try await limits(core).release(loginKey(email), now: Date())
        }
    }

    /// How long a check waits for a slot that a running check may give back.
    static let slotWait: Duration = .seconds(10)

    /// Reserves one of the window's `maxFailures` slots for a password or code check, before
    /// the check. A failed check keeps its slot, a right one gives it back: so however many
    /// arrive at once, no more than `maxFailures` wrong ones are ever checked. While every slot
    /// is taken by checks still running, the next waits for one (a burst of right passwords
    /// all get through, a few at a time); once the account is locked, it is refused unchecked.
    func reserveCheck(_ key: String, core: Core) async throws -> PolicyDecision {
        let clock = ContinuousClock()
        let start = clock.now
        while true {
            let now = Date()
            guard
                let until = try await limits(core).reserve(
                    key,
                    limit: loginMaxFailures,
                    window: TimeInterval(loginWindow),
                    now: now
                )
            else { return .allow }
            if try await limits(core).lockedUntil(key, now: now) != nil || clock.now - start >= Self.slotWait
                || Task.isCancelled
            {
                return .deny(lockedOut(until: until, now: now))
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// One entry per account: the window's checks (reserved or failed) and the lock.
    func loginKey(_ email: String) -> String { "login:\(Validate.normalizedEmail(email))" }

    func lockedOut(until: Date, now: Date) -> GatehouseError {
        refusal("Too many failed sign-in attempts, try again later", limit: loginMaxFailures, resetAt: until, now: now)
    }

    /// Mail on demand: `limit.perAccount` mails per account and `limit.perAddress` requests per
    /// client address in a window. The caller decides what a refusal looks like (a reset
    /// request still answers 200).
    func mailDecision(_ limit: MailLimit, kind: String, input: PolicyInput, now: Date, rateLimits: any RateLimitStore)
        async throws -> PolicyDecision
    {
        let message = "Too many emails requested, try again later"
        if let refusal = try await overLimit(
            "\(kind):ip:\(input.clientIP ?? "-")",
            limit.perAddress,
            message,
            now: now,
            rateLimits: rateLimits
        ) {
            return .deny(refusal)
        }
        if let email = input.email,
            let refusal = try await overLimit(
                "\(kind):\(Validate.normalizedEmail(email))",
                limit.perAccount,
                message,
                now: now,
                rateLimits: rateLimits
            )
        {
            return .deny(refusal)
        }
        return .allow
    }

    /// Counts one hit on `key` in `window`; the refusal when it goes over the window's limit.
    func overLimit(_ key: String, _ window: Window, _ message: String, now: Date, rateLimits: any RateLimitStore)
        async throws -> GatehouseError?
    {
        let (count, resetAt) = try await rateLimits.hit(key, window: TimeInterval(window.seconds), now: now)
        guard count > window.limit else { return nil }
        return refusal(message, limit: window.limit, resetAt: resetAt, now: now)
    }

    static let limitHeader = HTTPField.Name("X-RateLimit-Limit")!
    static let remainingHeader = HTTPField.Name("X-RateLimit-Remaining")!
    static let resetHeader = HTTPField.Name("X-RateLimit-Reset")!

    func headers(limit: Int, remaining: Int, resetAt: Date, now: Date) -> HTTPFields {
        var fields = HTTPFields()
        fields.reserveCapacity(4)
        fields[Self.limitHeader] = String(limit)
        fields[Self.remainingHeader] = String(max(0, remaining))
        fields[Self.resetHeader] = String(Int(resetAt.timeIntervalSince1970.rounded(.up)))
        return fields
    }

    func refusal(_ message: String, limit: Int, resetAt: Date, now: Date) -> GatehouseError {
        var fields = headers(limit: limit, remaining: 0, resetAt: resetAt, now: now)
        fields[.retryAfter] = String(max(1, Int(resetAt.timeIntervalSince(now).rounded(.up))))
        return GatehouseError(.tooManyRequests, message, headers: fields)
    }
}
