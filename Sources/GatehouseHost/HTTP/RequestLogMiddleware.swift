import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import Logging

/// One log line per request: method, path (without query), status, duration and request id.
/// The id is also returned in `X-Request-Id`. Bodies, cookies and headers are never logged.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = GatehouseContext

    func handle(
        _ request: Request,
        context: GatehouseContext,
        next: (Request, GatehouseContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        var response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let millis = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        response.headers[.xRequestID] = context.id
        context.logger.info(
            "\(request.method) \(request.uri.path) \(response.status.code)",
            metadata: ["ms": "\(String(format: "%.1f", millis))", "client": "\(context.clientIP ?? "-")"]
        )
        return response
    }
}
