import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// Sets `context.clientIP`: the TCP peer, unless the peer is a trusted proxy
/// (`server.trustedProxies`), in which case the right-most address of `X-Forwarded-For` that is
/// not itself a trusted proxy. The address is also what audit events record.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = GatehouseContext
    let core: Core

    func handle(
        _ request: Request,
        context: GatehouseContext,
        next: (Request, GatehouseContext) async throws -> Response
    ) async throws -> Response {
        var client = context
        let proxies = core.settings.server.trustedProxies
        if let peer = client.peerIP, proxies.contains(where: { $0.contains(peer) }) {
            client.viaTrustedProxy = true
            if let forwarded = request.headers[values: .xForwardedFor].last {
                let hops = forwarded.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                for hop in hops.reversed() where IPRange.parseAddress(hop) != nil {
                    client.clientIP = hop
                    if !proxies.contains(where: { $0.contains(hop) }) { break }
                }
            }
        }
        let resolved = client
        return try await AuditEvent.$clientIP.withValue(resolved.clientIP) { try await next(request, resolved) }
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xAPIKey = Self("X-API-Key")!
    static let xRequestID = Self("X-Request-Id")!
}
