import Foundation
import GatehouseCore

/// `mail.sendgrid`: SendGrid's v3 Mail Send API (`POST {baseURL}/v3/mail/send`), through libcurl.
public struct SendGridMailer: MailProvider {
    public static let id = "mail.sendgrid"
    public static let providerName = "sendgrid"

    let apiKey: String?
    public let baseURL: String
    public let timeout: Int

    public init(config: ConfigSection) throws {
        let sendgrid = config.section("mail.sendgrid")
        apiKey = try sendgrid.optionalString("apiKey", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        baseURL = try HTTPURL.read(sendgrid, "baseURL", default: "https://api.sendgrid.com")
        timeout = try sendgrid.int("timeout", default: 30, in: 1...600)
    }

    public var isConfigured: Bool { apiKey != nil }

    public var details: JSONValue { .object([("baseURL", .string(baseURL))]) }

    public func send(_ message: MailMessage, from: MailAddress) async throws -> String {
        guard let apiKey else { throw MailError(.notConfigured, "mail.sendgrid.apiKey is not set") }
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
            url: baseURL + "/v3/mail/send",
            apiKey: apiKey,
            body: body,
            timeout: Double(timeout),
            provider: "SendGrid"
        )
        guard let id = response.header("X-Message-Id"), !id.isEmpty else {
            throw MailError(.rejected, "SendGrid answered \(response.status) without an X-Message-Id")
        }
        return id
    }
}
