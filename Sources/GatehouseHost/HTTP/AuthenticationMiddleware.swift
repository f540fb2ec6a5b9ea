import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// Turns a credential into `context.principal`, trying in order (CONTRACT §1): the session
/// cookie, `Authorization: Bearer`, `X-API-Key`. A request without a valid credential goes on
/// without a principal; routes that need one answer 401 through `requirePrincipal()`.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = GatehouseContext
    let core: Core

    func handle(
        _ request: Request,
        context: GatehouseContext,
        next: (Request, GatehouseContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.principal = try await principal(for: request)
        return try await next(request, context)
    }

    func principal(for request: Request) async throws -> Principal? {
        let sessions = core.sessions
        if let token = request.cookies[SessionCookie.name]?.value, !token.isEmpty,
            let (session, user) = try await sessions.resolve(token: token)
        {
            return Principal(user: user, credential: .session(id: session.id))
        }
        if core.settings.sessions.betterAuthCookie {
            for name in SessionCookie.betterAuthNames {
                // Better Auth signs its cookie as `token.signature`; our tokens contain no dot.
                guard let value = request.cookies[name]?.value,
                    let token = value.removingPercentEncoding?.split(separator: ".").first.map(String.init),
                    let (session, user) = try await sessions.resolve(token: token)
                else { continue }
                return Principal(user: user, credential: .session(id: session.id))
            }
        }
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].caseInsensitiveCompare("Bearer") == .orderedSame {
                let token = parts[1].trimmingCharacters(in: .whitespaces)
                // A `gk_` token is an API key; anything else a session token.
                if token.hasPrefix(APIKey.marker) {
                    if let principal = try await apiKeyPrincipal(token) { return principal }
                } else if let (session, user) = try await sessions.resolve(token: token) {
                    return Principal(user: user, credential: .session(id: session.id))
                }
            }
        }
        if let key = request.headers[.xAPIKey] {
            return try await apiKeyPrincipal(key.trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// The key's user, unless keys are switched off (`features.apiKeys`).
    func apiKeyPrincipal(_ secret: String) async throws -> Principal? {
        guard (try? await core.checkPolicies(PolicyInput(point: .feature, feature: "apiKeys"))) != nil,
            let (key, user) = try await core.credentials.resolveAPIKey(secret)
        else { return nil }
        return Principal(user: user, credential: .apiKey(id: key.id))
    }
}

/// Asks the policy chain at the `request` decision point (e.g. a general rate limit).
struct RequestPolicyMiddleware: RouterMiddleware {
    typealias Context = GatehouseContext
    let core: Core

    func handle(
        _ request: Request,
        context: GatehouseContext,
        next: (Request, GatehouseContext) async throws -> Response
    ) async throws -> Response {
        let headers = try await core.checkPolicies(
            PolicyInput(point: .request, clientIP: context.clientIP, principal: context.principal)
        )
        do {
            var response = try await next(request, context)
            response.headers.append(contentsOf: headers)
            return response
        } catch var error as GatehouseError {
            error.headers.append(contentsOf: headers)
            throw error
        }
    }
}
