import Foundation

/// The `mail` section the core reads; each provider reads its own `mail.<provider>` section.
public struct MailSettings: Sendable, Equatable {

    public struct Outbox: Sendable, Equatable {
        /// Delivery attempts before a mail is marked failed.
        public var maxAttempts: Int
        /// First retry delay in seconds; each further one doubles, up to `maxDelay`.
        public var retryDelay: Int
        public var maxDelay: Int
        /// Deliveries in flight at once.
        public var concurrency: Int
        /// Seconds a claimed mail belongs to the process delivering it (PostgreSQL, several
        /// processes): past it, a process that died mid-delivery leaves the mail to another.
        /// Longer than the provider's timeout, or a slow delivery still under way is sent twice.
        public var lease: Int
    }

    /// The provider module in use, by name: `mail.provider: NAME` picks module `mail.NAME`
    /// (the host checks that one is registered).
    public var provider: String
    public var from: MailAddress
    /// The name mails speak of (`{{productName}}` in templates).
    public var productName: String
    /// The panel's address, for links in mails (`{panelURL}/verify-email?token=...`).
    public var panelURL: String
    public var testSubject: String
    /// 502 (default) or 500: the status of a failed admin test send.
    public var testFailureStatus: Int
    /// Mail the account holder when a sign-in comes from an address and browser none of their
    /// open sessions has.
    public var signInNotice: Bool
    public var outbox: Outbox

    static func read(_ mail: ConfigSection) throws -> MailSettings {
        let fromText = try mail.string("from", default: "gatehouse@localhost")
        guard let from = MailAddress(parsing: fromText) ?? Self.localAddress(fromText) else {
            throw mail.issue("from", "must be an email address, optionally with a name: \"Name <user@example.com>\"")
        }
        let failureStatus = try mail.int("testFailureStatus", default: 502, in: 500...502)
        guard failureStatus == 500 || failureStatus == 502 else {
            throw mail.issue("testFailureStatus", "must be 500 or 502, got \(failureStatus)")
        }
        let outbox = mail.section("outbox")
        return MailSettings(
            provider: try mail.string("provider", default: "log"),
            from: from,
            productName: try mail.string("productName", default: "Gatehouse"),
            panelURL: try Self.readURL(mail, "panelURL", default: "http://localhost:3000"),
            testSubject: try mail.string("testSubject", default: "Gatehouse Email Test"),
            testFailureStatus: failureStatus,
            signInNotice: try mail.bool("signInNotice", default: false),
            outbox: Outbox(
                maxAttempts: try outbox.int("maxAttempts", default: 10, in: 1...100),
                retryDelay: try outbox.int("retryDelay", default: 5, in: 1...3600),
                maxDelay: try outbox.int("maxDelay", default: 3600, in: 1...86400),
                concurrency: try outbox.int("concurrency", default: 4, in: 1...32),
                lease: try outbox.int("lease", default: 300, in: 5...86400)
            )
        )
    }

    /// An http or https URL setting, without trailing slashes.
    public static func readURL(_ section: ConfigSection, _ key: String, default defaultValue: String) throws -> String {
        var value = try section.string(key, default: defaultValue)
        while value.hasSuffix("/") { value.removeLast() }
        guard let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw section.issue(key, "must be an http or https URL, got \"\(value)\"")
        }
        return value
    }

    /// `user@localhost`-style senders (the default) that the public-address check refuses.
    static func localAddress(_ text: String) -> MailAddress? {
        let parts = text.split(separator: "@")
        guard parts.count == 2, !parts[0].isEmpty, parts[1] == "localhost" else { return nil }
        return MailAddress(address: text)
    }
}
