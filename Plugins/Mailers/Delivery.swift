import Curl
import Foundation
import GatehouseCore

extension MailError {
    /// The mail-level meaning of a libcurl failure. `secrets` are removed from the message.
    init(_ error: CurlError, hiding secrets: [String] = []) {
        let kind: Kind
        switch error.kind {
        case .connection: kind = .connection
        case .timeout: kind = .timeout
        case .tls: kind = .tls
        case .authentication: kind = .authentication
        case .rejected, .other:
            // An SMTP reply code says which: 4xx is "try later", 5xx is "never".
            kind = (400..<500).contains(error.responseCode) ? .unavailable : .rejected
        }
        self.init(kind, Self.redact(error.description, secrets))
    }

    static func redact(_ text: String, _ secrets: [String]) -> String {
        secrets.filter { !$0.isEmpty }.reduce(text) { $0.replacingOccurrences(of: $1, with: "[redacted]") }
    }
}

/// A JSON POST to an HTTP mail API with a Bearer key, with the reply's status sorted into
/// success or a typed `MailError`.
enum HTTPDelivery {
    static func post(url: String, apiKey: String, body: JSONValue, timeout: Double, provider: String) async throws
        -> CurlResponse
    {
        let response: CurlResponse
        do {
            response = try await Curl.shared.perform(
                CurlRequest(
                    method: "POST",
                    url: url,
                    headers: [
                        ("Authorization", "Bearer \(apiKey)"),
                        ("Content-Type", "application/json"),
                        ("Accept", "application/json"),
                        ("User-Agent", "Gatehouse"),
                    ],
                    body: body.serialized,
                    timeout: timeout
                )
            )
        } catch let error as CurlError {
            throw MailError(error, hiding: [apiKey])
        }
        guard (200..<300).contains(response.status) else {
            let reason = MailError.redact(Self.reason(response), [apiKey])
            let message = "\(provider) answered \(response.status): \(reason)"
            switch response.status {
            case 401, 403: throw MailError(.authentication, message)
            case 429, 500...599: throw MailError(.unavailable, message)
            default: throw MailError(.rejected, message)
            }
        }
        return response
    }

    /// The provider's own words: Resend's `message`, SendGrid's `errors[].message`, else the body.
    static func reason(_ response: CurlResponse) -> String {
        let json = try? JSONDecoder().decode(JSONValue.self, from: Data(response.body))
        if let message = json?["message"]?.stringValue { return message }
        if case .array(let errors)? = json?["errors"] {
            let messages = errors.compactMap { $0["message"]?.stringValue }
            if !messages.isEmpty { return messages.joined(separator: "; ") }
        }
        let text = String(decoding: response.body.prefix(300), as: UTF8.self).trimmingCharacters(
            in: .whitespacesAndNewlines
        )
        return text.isEmpty ? "no reason given" : text
    }
}

/// The settings every HTTP mail API shares: `apiKey`, `baseURL` (http or https, no trailing
/// slash) and `timeout`, under `mail.<provider>`.
struct HTTPProviderSettings: Sendable {
    let apiKey: String?
    let baseURL: String
    let timeout: Int

    init(_ section: ConfigSection, defaultBaseURL: String) throws {
        apiKey = try section.optionalString("apiKey", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        baseURL = try MailSettings.readURL(section, "baseURL", default: defaultBaseURL)
        timeout = try section.int("timeout", default: 30, in: 1...600)
    }

    var details: JSONValue { .object([("baseURL", .string(baseURL))]) }

    /// The key, or a `notConfigured` error naming the setting.
    func key(_ path: String) throws -> String {
        guard let apiKey else { throw MailError(.notConfigured, "\(path).apiKey is not set") }
        return apiKey
    }
}
