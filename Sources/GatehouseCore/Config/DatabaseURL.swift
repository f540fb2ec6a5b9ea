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

    /// Whether the host is an IP address, not a name. A TLS certificate's name cannot be
    /// checked against it (the client sends no name for an address), so `verify-full` needs a
    /// name, and `require` a private CA.
    public var hostIsAddress: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Why `tls` (with a CA file or not) cannot protect a connection to this host; nil if it can.
    public func tlsProblem(_ tls: CoreSettings.Database.TLS, caFile: String?) -> String? {
        guard hostIsAddress else { return nil }
        switch tls {
        case .disable: return nil
        case .verifyFull:
            return "verify-full needs a host name in database.url, not an address (\(host)): "
                + "the certificate's name cannot be checked against an address; use the name, "
                + "or require with a caFile"
        case .require:
            return caFile == nil
                ? "require with an address (\(host)) needs database.caFile: without a name to check, "
                    + "any certificate from a public CA would pass" : nil
        }
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
