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
        if let principal = try await cookiePrincipal(for: request) {
            context.principal = principal
            context.authenticatedByCookie = true
        } else {
            context.principal = try await headerPrincipal(for: request)
        }
        context.caller.id = context.principal?.user.id
        return try await next(request, context)
    }

    /// The session of our cookie, else of a cookie a loaded module defines.
    func cookiePrincipal(for request: Request) async throws -> Principal? {
        // Most API clients send no cookie: they skip the modules' look.
        guard request.headers[.cookie] != nil else { return nil }
        let sessions = core.sessions
        var tokens: [String] = []
        if let token = request.cookies[SessionCookie.name]?.value, !token.isEmpty { tokens.append(token) }
        for case let authenticator as any CookieAuthenticator in core.runtime.modules {
            tokens += authenticator.sessionTokens(in: request, core: core)
        }
        for token in tokens {
            if let (session, user) = try await sessions.resolve(token: token) {
                return Principal(
                    user: user,
                    credential: .session(id: session.id),
                    impersonatedBy: session.impersonatedBy
                )
            }
        }
        return nil
    }

    /// The session or API key of `Authorization: Bearer`, else the key of `X-API-Key`.
    func headerPrincipal(for request: Request) async throws -> Principal? {
        let sessions = core.sessions
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].equalsIgnoringASCIICase("Bearer") {
                let token = parts[1].trimmingHTTPWhitespace
                // A `gk_` token is an API key; anything else a session token.
                if token.hasPrefix(APIKey.marker) {
                    if let principal = try await apiKeyPrincipal(token) { return principal }
                } else if let (session, user) = try await sessions.resolve(token: token) {
                    return Principal(
                        user: user,
                        credential: .session(id: session.id),
                        impersonatedBy: session.impersonatedBy
                    )
                }
            }
        }
        if let key = request.headers[.xAPIKey] {
            return try await apiKeyPrincipal(key.trimmingHTTPWhitespace)
        }
        return nil
    }

    /// The key's user, unless keys are switched off (`features.apiKeys`).
    func apiKeyPrincipal(_ secret: String) async throws -> Principal? {
        guard (try? await core.checkPolicies(PolicyInput.feature(.apiKeys))) != nil,
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

/// Cross-site request forgery: a browser attaches the session cookie to requests that other
/// sites' pages make. A state-changing request (POST, PUT, PATCH, DELETE) that the cookie
/// authenticates must carry its body as `application/json` (which a page elsewhere cannot
/// send without a CORS preflight; else 415), and come from one of `server.allowedOrigins` (or
/// from the server's own origin) when it says where it comes from (`Origin`), or not be marked
/// `Sec-Fetch-Site: cross-site` when it does not (else 403). Bearer and API-key requests carry no ambient credential and pass.
struct CrossSiteRequestMiddleware: RouterMiddleware {
    typealias Context = GatehouseContext
    let core: Core

    static let unsafeMethods: Set<HTTPRequest.Method> = [.post, .put, .patch, .delete]
    static let refused = GatehouseError(.forbidden, "Cross-site request refused", code: .crossSiteRefused)
    static let notJSON = GatehouseError(.unsupportedMediaType, "Content-Type must be application/json")

    func handle(
        _ request: Request,
        context: GatehouseContext,
        next: (Request, GatehouseContext) async throws -> Response
    ) async throws -> Response {
        if Self.unsafeMethods.contains(request.method) {
            // Anonymous writes (a sign-in) get the origin checks too: a page elsewhere must not
            // sign a visitor into an account of its choosing.
            if context.authenticatedByCookie {
                try check(request.headers, host: request.head.authority, requireJSON: true)
            } else if context.principal == nil {
                try check(request.headers, host: request.head.authority, requireJSON: false)
            }
        }
        return try await next(request, context)
    }

    func check(_ headers: HTTPFields, host: String?, requireJSON: Bool) throws {
        let length = headers[.contentLength].flatMap { Int($0) } ?? 0
        if requireJSON, length > 0 || headers[.transferEncoding] != nil {
            let mediaType = headers[.contentType]?.split(separator: ";").first?
                .trimmingCharacters(in: .whitespaces).lowercased()
            guard mediaType == "application/json" else { throw Self.notJSON }
        }
        if let origin = headers[.origin] {
            guard
                Origin.isAllowed(
                    origin,
                    host: host,
                    allowed: core.settings.server.allowedOrigins,
                    secure: core.settings.server.secureCookies
                )
            else {
                throw Self.refused
            }
        } else if headers[HTTPField.Name("Sec-Fetch-Site")!]?.lowercased() == "cross-site" {
            throw Self.refused
        }
    }
}
