import GatehouseCore
import HTTPTypes
import Hummingbird

/// Errors on Better Auth's paths leave in Better Auth's shape, `{code, message}`, also those
/// raised before a handler runs: the cross-site check (as Better Auth's origin check words it),
/// a rate limit, a body that does not parse, and any unknown route under `/api/auth/`.
extension StellarStackRoutes: ErrorShaping {
    /// Better Auth's routes here (under `/api/auth/`), with their subpaths; `verify-email` only
    /// as GET (`routes.auth` has a POST of that name).
    static let betterAuthRoutes: [String] = [
        "sign-up", "sign-in", "get-session", "sign-out", "two-factor", "list-sessions", "revoke-session",
        "revoke-sessions", "revoke-other-sessions", "update-user", "change-password", "change-email", "delete-user",
        "send-verification-email", "request-password-reset", "forget-password", "reset-password", "admin",
    ]

    static func isBetterAuthRoute(_ request: Request) -> Bool {
        let path = request.uri.path
        guard path.hasPrefix("/api/auth/") else { return false }
        let route = path.dropFirst("/api/auth/".count)
        if route == "verify-email" { return request.method == .get }
        return betterAuthRoutes.contains { route == $0 || route.hasPrefix($0 + "/") }
    }

    public func shape(_ error: GatehouseError, for request: Request) -> GatehouseError? {
        guard error.replacementBody == nil, request.uri.path.hasPrefix("/api/auth/") else { return nil }
        if error.code == .noRoute { return Self.betterAuthRefusal(.notFound, "NOT_FOUND", "Not Found") }
        guard Self.isBetterAuthRoute(request) else { return nil }
        if error.code == .crossSiteRefused {
            let stated = request.headers[.origin] ?? ""
            return stated.isEmpty || stated == "null" ? BetterAuthOriginCheck.missing : BetterAuthOriginCheck.invalid
        }
        return Self.betterAuthError(error)
    }
}
