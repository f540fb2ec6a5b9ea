import Foundation
import HTTPTypes
import Hummingbird

/// One field that failed validation, as clients see it in `details`.
public struct FieldIssue: Sendable, Equatable, Codable {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// The one error type every service and module throws for a client-visible failure.
///
/// It renders as `{"error": message, "details"?: [...], ...extra}` with its status, so a
/// module never builds an error body by hand.
public struct GatehouseError: Error, Sendable, Equatable, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var details: [FieldIssue]?
    /// Extra top-level members of the body, e.g. `"suspended": true`.
    public var extra: [String: JSONValue]
    /// Extra response headers, e.g. `Retry-After`.
    public var headers: HTTPFields
    /// A body in another API's error shape (Better Auth's `{code, message}`), used instead of
    /// ours when set.
    public var replacementBody: JSONValue?

    public init(
        _ status: HTTPResponse.Status,
        _ message: String,
        details: [FieldIssue]? = nil,
        extra: [String: JSONValue] = [:],
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.message = message
        self.details = details
        self.extra = extra
        self.headers = headers
    }

    public var description: String { "\(status.code) \(message)" }

    public var body: JSONValue {
        if let replacementBody { return replacementBody }
        var members: [(String, JSONValue)] = [("error", .string(message))]
        if let details {
            members.append(
                (
                    "details",
                    .array(details.map { .object([("field", .string($0.field)), ("message", .string($0.message))]) })
                )
            )
        }
        for key in extra.keys.sorted() { members.append((key, extra[key]!)) }
        return .object(members)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(status: status, body: body)
        response.headers.append(contentsOf: headers)
        return response
    }
}

extension GatehouseError {
    public static let unauthorized = GatehouseError(.unauthorized, "Unauthorized")
    public static let suspended = GatehouseError(.forbidden, "Account suspended", extra: ["suspended": .bool(true)])
    /// An admin route called by someone who is not admin or rootAdmin (CONTRACT §5).
    public static let adminRequired = GatehouseError.forbidden("Forbidden: Admin access required")
    public static let requiresSession = GatehouseError(.forbidden, "This action requires a session")

    public static func badRequest(_ message: String) -> GatehouseError { GatehouseError(.badRequest, message) }
    public static func forbidden(_ message: String) -> GatehouseError { GatehouseError(.forbidden, message) }
    public static func notFound(_ message: String = "Not found") -> GatehouseError {
        GatehouseError(.notFound, message)
    }
    public static func conflict(_ message: String) -> GatehouseError { GatehouseError(.conflict, message) }
    public static func unavailable(_ message: String) -> GatehouseError { GatehouseError(.serviceUnavailable, message) }

    public static func validation(_ details: [FieldIssue]) -> GatehouseError {
        GatehouseError(.badRequest, "Validation failed", details: details)
    }

    public static func validation(field: String, _ message: String) -> GatehouseError {
        validation([FieldIssue(field: field, message: message)])
    }

    public static let payloadTooLarge = GatehouseError(.contentTooLarge, "Request body too large (limit 64 KiB)")
    public static let internalError = GatehouseError(.internalServerError, "Internal server error")
}
