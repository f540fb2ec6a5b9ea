import Foundation
import GatehouseCore
import HTTPTypes

/// `policy.ratelimit` (`policies.rateLimit.*`): registrations per address, failed sign-ins per
/// account (a lockout), and a general limit per caller (principal, else address). Refusals are
/// 429 with `Retry-After`; the general limit also reports `X-RateLimit-Limit/Remaining/Reset`
/// on every response.
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
    }

    public func decide(_ input: PolicyInput, core: Core) async -> PolicyDecision {
        let now = Date()
        switch input.point {
        case .register:
            let (count, resetAt) = core.rateLimits.hit(
                "register:\(input.clientIP ?? "-")",
                window: TimeInterval(register.seconds),
                now: now
            )
            if count > register.limit {
                return .deny(
                    refusal(
                        "Too many registrations from this address, try again later",
                        limit: register.limit,
                        resetAt: resetAt,
                        now: now
                    )
                )
            }
            return .allow
        case .login:
            guard let email = input.email else { return .allow }
            if let until = core.rateLimits.lockedUntil(lockKey(email), now: now) {
                return .deny(
                    refusal(
                        "Too many failed sign-in attempts, try again later",
                        limit: loginMaxFailures,
                        resetAt: until,
                        now: now
                    )
                )
            }
            return .allow
        case .request:
            let caller = input.principal.map { "user:\($0.user.id)" } ?? "ip:\(input.clientIP ?? "-")"
            let (count, resetAt) = core.rateLimits.hit(
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
        switch event {
        case .loginFailed(let email):
            let now = Date()
            let (count, _) = core.rateLimits.hit(
                "login-failures:\(Validate.normalizedEmail(email))",
                window: TimeInterval(loginWindow),
                now: now
            )
            if count >= loginMaxFailures {
                core.rateLimits.lock(lockKey(email), until: now.addingTimeInterval(TimeInterval(loginLockout)))
                core.rateLimits.reset("login-failures:\(Validate.normalizedEmail(email))")
                core.logger.warning("sign-in locked for \(loginLockout) s after \(count) failures")
                let user = try? await core.store.user(email: Validate.normalizedEmail(email))
                await core.accounts.audit(
                    AuditEvent(
                        .loginLocked,
                        userId: user?.id,
                        detail: [
                            "email": .string(Validate.normalizedEmail(email)), "seconds": .number(Double(loginLockout)),
                        ]
                    )
                )
            }
        case .loginSucceeded(let email):
            core.rateLimits.reset("login-failures:\(Validate.normalizedEmail(email))")
        }
    }

    func lockKey(_ email: String) -> String { "login-lock:\(Validate.normalizedEmail(email))" }

    func headers(limit: Int, remaining: Int, resetAt: Date, now: Date) -> HTTPFields {
        var fields = HTTPFields()
        fields[HTTPField.Name("X-RateLimit-Limit")!] = String(limit)
        fields[HTTPField.Name("X-RateLimit-Remaining")!] = String(max(0, remaining))
        fields[HTTPField.Name("X-RateLimit-Reset")!] = String(Int(resetAt.timeIntervalSince1970.rounded(.up)))
        return fields
    }

    func refusal(_ message: String, limit: Int, resetAt: Date, now: Date) -> GatehouseError {
        var fields = headers(limit: limit, remaining: 0, resetAt: resetAt, now: now)
        fields[.retryAfter] = String(max(1, Int(resetAt.timeIntervalSince(now).rounded(.up))))
        return GatehouseError(.tooManyRequests, message, headers: fields)
    }
}
