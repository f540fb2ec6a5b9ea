import GatehouseCore
import HTTPTypes
import Hummingbird

/// Better Auth's origin check on its routes: a request that changes something and carries
/// cookies must say where it comes from (`Origin`, else `Referer`), and that must be one of
/// `server.allowedOrigins` or the server's own origin. A request without cookies (a token-only client) is not checked.
struct BetterAuthOriginCheck: RouterMiddleware {
    typealias Context = GatehouseContext
    let core: Core

    static let missing = StellarStackRoutes.betterAuthRefusal(
        .forbidden,
        "MISSING_OR_NULL_ORIGIN",
        "Missing or null Origin"
    )
    static let invalid = StellarStackRoutes.betterAuthRefusal(.forbidden, "INVALID_ORIGIN", "Invalid origin")

    func handle(
        _ request: Request,
        context: GatehouseContext,
        next: (Request, GatehouseContext) async throws -> Response
    ) async throws -> Response {
        guard ![.get, .head, .options].contains(request.method), request.headers[.cookie] != nil else {
            return try await next(request, context)
        }
        let stated = request.headers[.origin] ?? request.headers[.referer]
        guard let stated, !stated.isEmpty, stated != "null" else { throw Self.missing }
        guard
            Origin.isAllowed(
                stated,
                host: request.head.authority,
                allowed: core.settings.server.allowedOrigins,
                secure: core.settings.server.secureCookies
            )
        else { throw Self.invalid }
        return try await next(request, context)
    }
}
