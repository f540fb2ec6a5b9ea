import Foundation
import GatehouseCore
import Logging

/// `mail.log`: writes each mail to the log instead of sending it. For development.
public struct LogMailer: MailProvider {
    public static let id = "mail.log"

    public init(config: ConfigSection) throws {}

    public var isConfigured: Bool { true }

    public var details: JSONValue { .object([]) }

    public var startWarning: String? {
        "mail.provider is log: mails (reset links and codes among them) are written to the log at info level, not sent; not for production"
    }

    public func send(_ message: MailMessage, from: MailAddress) async throws -> String {
        let messageId = "log-\(Identifier.make())"
        // Info, never higher: the body holds reset links and codes.
        Logger(label: "gatehouse.mail").info(
            "mail (not sent: mail.provider is log)\nMessage-ID: \(messageId)\nFrom: \(from)\nTo: \(message.to)\nSubject: \(message.subject)\n\n\(message.text)"
        )
        return messageId
    }
}
