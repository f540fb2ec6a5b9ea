import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// The request context of every route: who is calling, and from where.
public struct GatehouseContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by the authentication middleware when a credential resolved.
    public var principal: Principal?
    /// The principal came from a cookie, which a browser sends on its own, cross-site too.
    public var authenticatedByCookie = false
    /// The client's address: the peer, or the `X-Forwarded-For` client when the peer is a
    /// trusted proxy. Set by the host's client-address middleware.
    public var clientIP: String?
    /// The address of the TCP peer.
    public let peerIP: String?
    /// The peer is one of `server.trustedProxies`: headers it sets may be believed.
    public var viaTrustedProxy = false
    /// Who the request turned out to be, for the request's log line (written by the outermost
    /// middleware, which sees the context as it was before authentication).
    public let caller = Caller()

    /// Shared by every copy of one request's context.
    public final class Caller: Sendable {
        let userId = Mutex<String?>(nil)
        public init() {}
        public var id: String? {
            get { userId.withLock { $0 } }
            set { userId.withLock { $0 = newValue } }
        }
    }

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.peerIP = source.channel.remoteAddress?.ipAddress
        self.clientIP = peerIP
    }

    /// Bodies above 64 KiB are refused with 413 (CONTRACT §1).
    public var maxUploadSize: Int { 64 * 1024 }

    /// Where a request comes from, as the policies see it.
    public func origin(of request: Request) -> RequestOrigin {
        RequestOrigin(clientIP: clientIP, headers: request.headers, viaTrustedProxy: viaTrustedProxy)
    }

    /// The authenticated caller; 401 without one, 403 when the account is suspended.
    public func requirePrincipal() throws -> Principal {
        guard let principal else { throw GatehouseError.unauthorized }
        if principal.user.suspended { throw GatehouseError.suspended }
        return principal
    }

    /// The caller, who must be an admin or rootAdmin.
    public func requireAdmin() throws -> Principal {
        let principal = try requirePrincipal()
        guard principal.user.role.isAdmin else { throw GatehouseError.adminRequired }
        return principal
    }

    /// The caller, who must have signed in with a session (not an API key).
    public func requireSession() throws -> Principal {
        let principal = try requirePrincipal()
        guard principal.sessionId != nil else { throw GatehouseError.requiresSession }
        return principal
    }
}

extension Request {
    /// Decodes a JSON object body into `T`, answering every client mistake with a 4xx
    /// `GatehouseError`: too large (413), not UTF-8, malformed, not an object, a missing field or
    /// a field of the wrong type (400, naming the field).
    public func decodeJSON<T: Decodable>(_ type: T.Type, context: GatehouseContext) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw GatehouseError.payloadTooLarge
        }
        let bytes = buffer.readableBytesView
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw GatehouseError.badRequest("Request body must be UTF-8")
        }
        let trimmed = bytes.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        guard trimmed.first == UInt8(ascii: "{") else {
            throw GatehouseError.badRequest("Request body must be a JSON object")
        }
        do {
            return try JSONDecoder.gatehouse.decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw GatehouseError(decoding: error)
        }
    }
}

extension Request {
    /// Like `decodeJSON`, but an empty body (no bytes, or only whitespace) gives nil.
    public func decodeOptionalJSON<T: Decodable>(_ type: T.Type, context: GatehouseContext) async throws -> T? {
        var request = self
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw GatehouseError.payloadTooLarge
        }
        if buffer.readableBytesView.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return nil }
        return try await request.decodeJSON(type, context: context)
    }
}

extension GatehouseError {
    /// The client-facing form of a decoding failure.
    public init(decoding error: DecodingError) {
        func field(_ path: [any CodingKey]) -> String {
            path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
        }
        func typeName(_ type: Any.Type) -> String {
            switch type {
            case is String.Type, is String?.Type: return "a string"
            case is Bool.Type, is Bool?.Type: return "true or false"
            case is Int.Type, is Int?.Type, is Double.Type, is Double?.Type: return "a number"
            case is Date.Type, is Date?.Type: return "an ISO 8601 timestamp"
            default:
                let name = String(describing: type)
                if name.hasPrefix("Array") || name.hasPrefix("Optional<Array") { return "an array" }
                return "an object"
            }
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            self = .badRequest("Malformed JSON")
        case .dataCorrupted(let context):
            self = .validation(field: field(context.codingPath), context.debugDescription)
        case .keyNotFound(let key, let context):
            self = .validation(field: field(context.codingPath + [key]), "is required")
        case .valueNotFound(_, let context):
            self = .validation(field: field(context.codingPath), "must not be null")
        case .typeMismatch(_, let context) where context.codingPath.isEmpty:
            self = .badRequest("Request body must be a JSON object")
        case .typeMismatch(let type, let context):
            self = .validation(field: field(context.codingPath), "must be \(typeName(type))")
        @unknown default:
            self = .badRequest("Malformed JSON")
        }
    }
}

/// The client's address and headers, for the policies that look at them (a country rule).
public struct RequestOrigin: Sendable {
    public var clientIP: String?
    public var headers: HTTPFields
    /// The peer is a trusted proxy: headers it sets (a country header) may be believed.
    public var viaTrustedProxy: Bool

    public init(clientIP: String?, headers: HTTPFields = [:], viaTrustedProxy: Bool = false) {
        self.clientIP = clientIP
        self.headers = headers
        self.viaTrustedProxy = viaTrustedProxy
    }
}
