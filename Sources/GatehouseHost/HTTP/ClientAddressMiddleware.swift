import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// Sets `context.clientIP`: the TCP peer, unless the peer is a trusted proxy
/// (`server.trustedProxies`), in which case the right-most address of `X-Forwarded-For` that is
/// not itself a trusted proxy.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = GatehouseContext
    let core: Core

    func handle(
        _ request: Request,
        context: GatehouseContext,
        next: (Request, GatehouseContext) async throws -> Response
    ) async throws -> Response {
        let proxies = core.settings.server.trustedProxies
        guard !proxies.isEmpty, let peer = context.peerIP, proxies.contains(where: { $0.contains(peer) }),
            let forwarded = request.headers[values: .xForwardedFor].last
        else {
            return try await next(request, context)
        }
        var context = context
        let hops = forwarded.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() where IPRange.parseAddress(hop) != nil {
            context.clientIP = hop
            if !proxies.contains(where: { $0.contains(hop) }) { break }
        }
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xAPIKey = Self("X-API-Key")!
    static let xRequestID = Self("X-Request-Id")!
}
