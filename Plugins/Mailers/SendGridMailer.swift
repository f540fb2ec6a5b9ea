import Foundation
import GatehouseCore

/// `mail.sendgrid`: SendGrid's v3 Mail Send API (`POST {baseURL}/v3/mail/send`), through libcurl.
public struct SendGridMailer: MailProvider {
    public static let id = "mail.sendgrid"
    /// StellarStack's variable.
    public static let environmentAliases = [EnvironmentAlias("SENDGRID_API_KEY", for: "mail.sendgrid.apiKey")]

    let settings: HTTPProviderSettings

    public init(config: ConfigSection) throws {
        settings = try HTTPProviderSettings(config.section("mail.sendgrid"), defaultBaseURL: "https://api.sendgrid.com")
    }

    public var isConfigured: Bool { settings.apiKey != nil }

    public var details: JSONValue { settings.details }

    public func send(_ message: MailMessage, from: MailAddress) async throws -> String {
        let apiKey = try settings.key("mail.sendgrid")
        var sender: [(String, JSONValue)] = [("email", .string(from.address))]
        if let name = from.name { sender.append(("name", .string(name))) }
        let body: JSONValue = .object([
            ("personalizations", .array([.object([("to", .array([.object([("email", .string(message.to))])]))])])),
            ("from", .object(sender)),
            ("subject", .string(message.subject)),
            (
                "content",
                .array([
                    .object([("type", "text/plain"), ("value", .string(message.text))]),
                    .object([("type", "text/html"), ("value", .string(message.html))]),
                ])
            ),
        ])
        let response = try await HTTPDelivery.post(
            url: settings.baseURL + "/v3/mail/send",
            apiKey: apiKey,
            body: body,
            timeout: Double(settings.timeout),
            provider: "SendGrid"
        )
        guard let id = response.header("X-Message-Id"), !id.isEmpty else {
            throw MailError(.rejected, "SendGrid answered \(response.status) without an X-Message-Id")
        }
        return id
    }
}
