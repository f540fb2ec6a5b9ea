import Foundation
import GatehouseCore

/// `mail.resend`: Resend's HTTP API (`POST {baseURL}/emails`), through libcurl.
public struct ResendMailer: MailProvider {
    public static let id = "mail.resend"
    public static let providerName = "resend"

    let apiKey: String?
    public let baseURL: String
    public let timeout: Int

    public init(config: ConfigSection) throws {
        let resend = config.section("mail.resend")
        apiKey = try resend.optionalString("apiKey", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        baseURL = try HTTPURL.read(resend, "baseURL", default: "https://api.resend.com")
        timeout = try resend.int("timeout", default: 30, in: 1...600)
    }

    public var isConfigured: Bool { apiKey != nil }

    public var details: JSONValue { .object([("baseURL", .string(baseURL))]) }

    public func send(_ message: MailMessage, from: MailAddress) async throws -> String {
        guard let apiKey else { throw MailError(.notConfigured, "mail.resend.apiKey is not set") }
        let body: JSONValue = .object([
            ("from", .string(from.description)),
            ("to", .array([.string(message.to)])),
            ("subject", .string(message.subject)),
            ("html", .string(message.html)),
            ("text", .string(message.text)),
        ])
        let response = try await HTTPDelivery.post(
            url: baseURL + "/emails",
            apiKey: apiKey,
            body: body,
            timeout: Double(timeout),
            provider: "Resend"
        )
        let reply = try? JSONDecoder().decode(JSONValue.self, from: Data(response.body))
        guard let id = reply?["id"]?.stringValue, !id.isEmpty else {
            throw MailError(.rejected, "Resend answered \(response.status) without an email id")
        }
        return id
    }
}

/// A base URL setting: http or https, no trailing slash.
enum HTTPURL {
    static func read(_ section: ConfigSection, _ key: String, default defaultValue: String) throws -> String {
        var value = try section.string(key, default: defaultValue)
        while value.hasSuffix("/") { value.removeLast() }
        guard let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw section.issue(key, "must be an http or https URL, got \"\(value)\"")
        }
        return value
    }
}
