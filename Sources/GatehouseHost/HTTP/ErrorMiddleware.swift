import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The outermost middleware: every failure leaves as JSON `{"error": ...}` with its status.
///
/// Client mistakes that Hummingbird itself reports (no route, oversized body, bad JSON) become
/// their 4xx; a path that exists under other methods gets 405 with `Allow`; anything unexpected
/// is logged and answered 500 without internals.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = GatehouseContext
    let routes: RouteTable

    func handle(
        _ request: Request,
        context: GatehouseContext,
        next: (Request, GatehouseContext) async throws -> Response
    ) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > context.maxUploadSize {
            return try GatehouseError.payloadTooLarge.response(from: request, context: context)
        }
        do {
            return try await next(request, context)
        } catch let error as GatehouseError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            return try translate(error, request: request, context: context).response(from: request, context: context)
        } catch is NIOTooManyBytesError {
            return try GatehouseError.payloadTooLarge.response(from: request, context: context)
        } catch let error as DecodingError {
            return try GatehouseError(decoding: error).response(from: request, context: context)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return try GatehouseError.internalError.response(from: request, context: context)
        }
    }

    func translate(_ error: HTTPError, request: Request, context: GatehouseContext) -> GatehouseError {
        if error.status == .notFound {
            let allowed = routes.methods(matching: request.uri.path)
            if !allowed.isEmpty {
                var headers = HTTPFields()
                headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                return GatehouseError(.methodNotAllowed, "Method not allowed", headers: headers)
            }
            return GatehouseError(.notFound, "Not found")
        }
        if error.status == .contentTooLarge { return .payloadTooLarge }
        let message = error.body ?? error.status.reasonPhrase
        return GatehouseError(error.status, message.isEmpty ? "Request failed" : message)
    }
}
