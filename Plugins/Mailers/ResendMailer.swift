import Foundation
import GatehouseCore

/// `mail.resend`: Resend's HTTP API (`POST {baseURL}/emails`), through libcurl.
public struct ResendMailer: MailProvider {
    public static let id = "mail.resend"
    /// StellarStack's variable.
    public static let environmentAliases = [EnvironmentAlias("RESEND_API_KEY", for: "mail.resend.apiKey")]

    let settings: HTTPProviderSettings

    public init(config: ConfigSection) throws {
        settings = try HTTPProviderSettings(config.section("mail.resend"), defaultBaseURL: "https://api.resend.com")
    }

    public var isConfigured: Bool { settings.apiKey != nil }

    public var details: JSONValue { settings.details }

    public func send(_ message: MailMessage, from: MailAddress) async throws -> String {
        let apiKey = try settings.key("mail.resend")
        let body: JSONValue = .object([
            ("from", .string(from.description)),
            ("to", .array([.string(message.to)])),
            ("subject", .string(message.subject)),
            ("html", .string(message.html)),
            ("text", .string(message.text)),
        ])
        let response = try await HTTPDelivery.post(
            url: settings.baseURL + "/emails",
            apiKey: apiKey,
            body: body,
            timeout: Double(settings.timeout),
            provider: "Resend"
        )
        let reply = try? JSONDecoder().decode(JSONValue.self, from: Data(response.body))
        guard let id = reply?["id"]?.stringValue, !id.isEmpty else {
            throw MailError(.rejected, "Resend answered \(response.status) without an email id")
        }
        return id
    }
}
