import Foundation

/// One message to one recipient: a subject and the same content as text and as HTML.
public struct MailMessage: Sendable, Equatable {
    public var to: String
    public var subject: String
    public var text: String
    public var html: String

    public init(to: String, subject: String, text: String, html: String) {
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
    }
}

/// An address with an optional display name, as in `Gatehouse <noreply@example.com>`.
public struct MailAddress: Sendable, Equatable, CustomStringConvertible {
    public var name: String?
    public var address: String

    public init(name: String? = nil, address: String) {
        self.name = name
        self.address = address
    }

    /// Parses `addr@example.com` or `Display Name <addr@example.com>`; nil when malformed.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            let address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            var name = trimmed[..<open].trimmingCharacters(in: .whitespaces)
            if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 {
                name = String(name.dropFirst().dropLast())
            }
            guard Validate.isEmail(address), !name.contains(where: { $0 == "\r" || $0 == "\n" }) else { return nil }
            self.init(name: name.isEmpty ? nil : name, address: address)
        } else {
            guard Validate.isEmail(trimmed) else { return nil }
            self.init(address: trimmed)
        }
    }

    public var description: String { name.map { "\($0) <\(address)>" } ?? address }

    /// The part after `@`.
    public var domain: String { String(address.split(separator: "@").last ?? "localhost") }
}

/// Why a provider did not take a message. The message never holds a key or password.
public struct MailError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The provider's settings are missing (no host, no API key).
        case notConfigured
        /// Nobody answered: refused, unreachable, reset.
        case connection
        case timeout
        case tls
        /// The provider refused our credentials.
        case authentication
        /// The provider refused the message for good (a permanent refusal: a 5xx reply of a mail
        /// server, a 4xx of an HTTP API).
        case rejected
        /// The provider is busy or failing for now (a mail server's 4xx, an HTTP 429 or 5xx).
        case unavailable
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// Worth trying again later (the outbox retries these with backoff).
    public var isTransient: Bool {
        switch kind {
        case .connection, .timeout, .tls, .unavailable: return true
        case .notConfigured, .authentication, .rejected: return false
        }
    }

    public var description: String { message }
}

/// A mail provider module (`mail.NAME`): sends one message, returns the provider's message id.
/// `mail.provider: NAME` in the config chooses the one in use.
public protocol MailProvider: GatehouseModule {
    /// Said in the log at start while this provider is in use (e.g. that it sends nothing).
    var startWarning: String? { get }
    /// True when the settings it needs are present.
    var isConfigured: Bool { get }
    /// Settings worth showing an admin (host, port, base URL, ...), never secrets.
    var details: JSONValue { get }
    /// Throws `MailError`.
    func send(_ message: MailMessage, from: MailAddress) async throws -> String
}

extension MailProvider {
    /// The name `mail.provider` gives it: its id without `mail.`.
    public static var providerName: String { String(id.dropFirst("mail.".count)) }
    public var startWarning: String? { nil }
}
