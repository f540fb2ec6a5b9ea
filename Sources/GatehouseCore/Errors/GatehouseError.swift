import Foundation
import HTTPTypes
import Hummingbird

/// A stable, machine-readable name for an error or a field issue. Clients of each surface see
/// it rendered in that surface's own way (a code in one, a message in another); code decides by
/// it, never by a message's wording.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    // Errors.
    public static let badRequest = ErrorCode("bad_request")
    public static let validationFailed = ErrorCode("validation_failed")
    public static let unauthorized = ErrorCode("unauthorized")
    public static let invalidCredentials = ErrorCode("invalid_credentials")
    public static let forbidden = ErrorCode("forbidden")
    public static let accountSuspended = ErrorCode("account_suspended")
    public static let requiresSession = ErrorCode("requires_session")
    public static let notFound = ErrorCode("not_found")
    public static let conflict = ErrorCode("conflict")
    public static let emailTaken = ErrorCode("email_taken")
    public static let payloadTooLarge = ErrorCode("payload_too_large")
    public static let rateLimited = ErrorCode("rate_limited")
    public static let unavailable = ErrorCode("unavailable")
    public static let internalError = ErrorCode("internal_error")
    /// A password given to confirm an action was wrong.
    public static let wrongPassword = ErrorCode("wrong_password")
    /// A one-time code (TOTP, backup code) was wrong.
    public static let invalidCode = ErrorCode("invalid_code")
    /// No route has this path (for any method).
    public static let noRoute = ErrorCode("no_route")
    /// A write from a page elsewhere (the cross-site check).
    public static let crossSiteRefused = ErrorCode("cross_site_refused")
    /// A sign-in's second step came without a live challenge (its temp token or cookie).
    public static let invalidChallenge = ErrorCode("invalid_challenge")
    /// A link's token (verification, reset) is unknown, used or expired.
    public static let invalidToken = ErrorCode("invalid_token")
    public static let alreadyVerified = ErrorCode("already_verified")
    /// A mailed code's time is up.
    public static let codeExpired = ErrorCode("code_expired")
    /// The change asked for changes nothing (the same address).
    public static let unchanged = ErrorCode("unchanged")
    public static let twoFactorNotEnabled = ErrorCode("two_factor_not_enabled")
    public static let twoFactorNotSetUp = ErrorCode("two_factor_not_set_up")

    // Field issues.
    public static let required = ErrorCode("required")
    public static let invalid = ErrorCode("invalid")
    public static let tooShort = ErrorCode("too_short")
    public static let tooLong = ErrorCode("too_long")

    /// The code an error of `status` has when none is given.
    public static func of(_ status: HTTPResponse.Status) -> ErrorCode {
        switch status.code {
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 409: .conflict
        case 413: .payloadTooLarge
        case 429: .rateLimited
        case 503: .unavailable
        case 500...: .internalError
        default: ErrorCode(status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"))
        }
    }
}

/// One field that failed validation, as clients see it in `details` (`code` is for code: it
/// is not in the body).
public struct FieldIssue: Sendable, Equatable, Codable {
    public var field: String
    public var message: String
    public var code: ErrorCode?

    public init(field: String, message: String, code: ErrorCode? = nil) {
        self.field = field
        self.message = message
        self.code = code
    }

    enum CodingKeys: String, CodingKey {
        case field, message
    }
}

/// The one error type every service and module throws for a client-visible failure.
///
/// It renders as `{"error": message, "details"?: [...], ...extra}` with its status, so a
/// module never builds an error body by hand.
public struct GatehouseError: Error, Sendable, Equatable, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// What went wrong, for code (the message is for people and may be reworded).
    public var code: ErrorCode
    public var message: String
    public var details: [FieldIssue]?
    /// Extra top-level members of the body, e.g. `"suspended": true`.
    public var extra: [String: JSONValue]
    /// Extra response headers, e.g. `Retry-After`.
    public var headers: HTTPFields
    /// A body in another API's error shape (a client library's `{code, message}`), used instead of
    /// ours when set.
    public var replacementBody: JSONValue?

    public init(
        _ status: HTTPResponse.Status,
        _ message: String,
        code: ErrorCode? = nil,
        details: [FieldIssue]? = nil,
        extra: [String: JSONValue] = [:],
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code ?? ErrorCode.of(status)
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
    public static let suspended = GatehouseError(
        .forbidden,
        "Account suspended",
        code: .accountSuspended,
        extra: ["suspended": .bool(true)]
    )
    /// An admin route called by someone who is not admin or rootAdmin (CONTRACT §5).
    public static let adminRequired = GatehouseError.forbidden("Forbidden: Admin access required")
    public static let requiresSession = GatehouseError(
        .forbidden,
        "This action requires a session",
        code: .requiresSession
    )

    public static func badRequest(_ message: String) -> GatehouseError { GatehouseError(.badRequest, message) }
    public static func forbidden(_ message: String) -> GatehouseError { GatehouseError(.forbidden, message) }
    public static func notFound(_ message: String = "Not found") -> GatehouseError {
        GatehouseError(.notFound, message)
    }
    public static func conflict(_ message: String) -> GatehouseError { GatehouseError(.conflict, message) }
    public static func unavailable(_ message: String) -> GatehouseError { GatehouseError(.serviceUnavailable, message) }

    public static func validation(_ details: [FieldIssue]) -> GatehouseError {
        GatehouseError(.badRequest, "Validation failed", code: .validationFailed, details: details)
    }

    public static func validation(field: String, _ message: String, code: ErrorCode? = nil) -> GatehouseError {
        validation([FieldIssue(field: field, message: message, code: code)])
    }

    /// The password hashing queue is full (see `PasswordHasher`): nothing was checked or
    /// changed, and the client may try again shortly.
    public static let hashingBusy = GatehouseError(
        .serviceUnavailable,
        "Server busy, try again shortly",
        headers: [.retryAfter: "2"]
    )
    public static let payloadTooLarge = GatehouseError(.contentTooLarge, "Request body too large (limit 64 KiB)")
    public static let internalError = GatehouseError(.internalServerError, "Internal server error")
}
