import Foundation

/// A PostgreSQL server as `database.url` names it:
/// `postgres://user[:password]@host[:port]/database` (`postgresql://` too). The user, password
/// and database may be percent-encoded; an IPv6 host goes in brackets. Nothing else (query
/// parameters, several hosts) is accepted: TLS has its own keys (`database.tls`, `.caFile`).
public struct DatabaseURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String

    /// Parses `text`; the error says what is wrong without repeating the text (it may hold the
    /// password).
    public init(parsing text: String) throws(DatabaseURLError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw DatabaseURLError("must be postgres://user:password@host:port/database")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw DatabaseURLError("must start with postgres:// (got a \(scheme): address)")
        }
        guard let host = components.host, !host.isEmpty else { throw DatabaseURLError("names no host") }
        // The encoded forms, decoded once here (`user`, `password` and `path` are decoded
        // already: decoding them again would turn a password's `%2541` into `A`).
        guard let user = components.percentEncodedUser?.removingPercentEncoding, !user.isEmpty else {
            throw DatabaseURLError("names no user")
        }
        let path = components.percentEncodedPath.drop(while: { $0 == "/" })
        guard let database = path.removingPercentEncoding else { throw DatabaseURLError("has a bad database name") }
        guard !database.isEmpty, !database.contains("/") else {
            throw DatabaseURLError("must name one database after the host (…/gatehouse)")
        }
        guard components.query == nil, components.fragment == nil else {
            throw DatabaseURLError("takes no ?options: TLS is set by database.tls and database.caFile")
        }
        if let port = components.port, !(1...65535).contains(port) { throw DatabaseURLError("has a bad port") }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        self.user = user
        self.password = components.percentEncodedPassword.map { $0.removingPercentEncoding ?? $0 }
        self.database = database
    }

    /// The address without its password, for logs and messages.
    public var redacted: String { "postgres://\(user)@\(host):\(port)/\(database)" }
}

// However it is printed (a log line, a failed test's values, `dump`), the password stays out.
extension DatabaseURL: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { redacted }
    public var debugDescription: String { redacted }
    public var customMirror: Mirror { Mirror(self, children: ["redacted": redacted]) }
}

public struct DatabaseURLError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
