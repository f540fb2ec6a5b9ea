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
///
/// A loaded `ErrorShaping` module may answer in its own shape on its paths.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = GatehouseContext
    let routes: RouteTable
    let core: Core

    func handle(
        _ request: Request,
        context: GatehouseContext,
        next: (Request, GatehouseContext) async throws -> Response
    ) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > context.maxUploadSize {
            return try GatehouseError.payloadTooLarge.response(from: request, context: context)
        }
        let failure: GatehouseError
        do {
            return try await next(request, context)
        } catch let error as GatehouseError {
            failure = error
        } catch let error as HTTPError {
            failure = translate(error, request: request, context: context)
        } catch is NIOTooManyBytesError {
            failure = .payloadTooLarge
        } catch let error as DecodingError {
            failure = GatehouseError(decoding: error)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            failure = .internalError
        }
        return try shaped(failure, for: request).response(from: request, context: context)
    }

    /// The error in the shape of the first loaded module that claims the request's path.
    func shaped(_ error: GatehouseError, for request: Request) -> GatehouseError {
        for module in core.runtime.modules {
            if let shaping = module as? any ErrorShaping, let shaped = shaping.shape(error, for: request) {
                return shaped
            }
        }
        return error
    }

    func translate(_ error: HTTPError, request: Request, context: GatehouseContext) -> GatehouseError {
        if error.status == .notFound {
            let allowed = routes.methods(matching: request.uri.path)
            if !allowed.isEmpty {
                var headers = HTTPFields()
                headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                return GatehouseError(.methodNotAllowed, "Method not allowed", headers: headers)
            }
            return GatehouseError(.notFound, "Not found", code: .noRoute)
        }
        if error.status == .contentTooLarge { return .payloadTooLarge }
        let message = error.body ?? error.status.reasonPhrase
        return GatehouseError(error.status, message.isEmpty ? "Request failed" : message)
    }
}
