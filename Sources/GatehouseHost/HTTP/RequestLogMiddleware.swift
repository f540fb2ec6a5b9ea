import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import Logging

/// One log line per request: method, route, status, duration, request id, the user when
/// known and the client's address. The route is the template a request matched
/// (`/api/auth/reset-password/{token}`), so a token in a path never reaches the log; bodies,
/// queries, cookies and headers are never logged. The id is also returned in `X-Request-Id`.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = GatehouseContext
    /// Each request is also counted and timed (`gatehouse_http_*`).
    let metrics: GatehouseMetrics

    static let knownMethods: Set<HTTPRequest.Method> = [
        .get, .head, .post, .put, .delete, .connect, .options, .trace, .patch,
    ]

    func handle(
        _ request: Request,
        context: GatehouseContext,
        next: (Request, GatehouseContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        var response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        response.headers[.xRequestID] = context.id
        let route = context.endpointPath ?? "(no route)"
        metrics.request(
            route: route,
            // A client may send any token as a method: the series keep to the known ones.
            method: Self.knownMethods.contains(request.method) ? request.method.rawValue : "OTHER",
            status: Int(response.status.code),
            duration: elapsed
        )
        // The line's metadata is built only when info lines are written at all.
        guard context.logger.logLevel <= .info else { return response }
        let millis = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        var metadata: Logger.Metadata = [
            "request_id": "\(context.id)",
            "method": "\(request.method)",
            "route": "\(route)",
            "status": "\(response.status.code)",
            "duration_ms": "\(String(format: "%.1f", millis))",
            "client_ip": "\(context.clientIP ?? "-")",
        ]
        if let userId = context.caller.id { metadata["user_id"] = "\(userId)" }
        context.logger.info("\(request.method) \(route) \(response.status.code)", metadata: metadata)
        return response
    }
}
