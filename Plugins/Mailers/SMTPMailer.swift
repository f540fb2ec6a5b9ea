import Curl
import Foundation
import GatehouseCore

/// `mail.smtp`: any SMTP server, through libcurl.
public struct SMTPMailer: MailProvider {
    public static let id = "mail.smtp"

    /// StellarStack's variables. `SMTP_SECURE=true` means TLS from the start; `false`, STARTTLS.
    public static let environmentAliases = [
        EnvironmentAlias("SMTP_HOST", for: "mail.smtp.host"),
        EnvironmentAlias("SMTP_PORT", for: "mail.smtp.port"),
        EnvironmentAlias("SMTP_USER", for: "mail.smtp.user"),
        EnvironmentAlias("SMTP_PASS", for: "mail.smtp.password"),
        EnvironmentAlias("SMTP_SECURE", for: "mail.smtp.security") { value in
            switch value.lowercased() {
            case "true", "1", "yes": "tls"
            case "false", "0", "no", "": "starttls"
            default: value
            }
        },
    ]

    public let host: String?
    public let port: Int
    public let security: SMTPSubmission.Security
    public let user: String?
    let password: String?
    public let timeout: Int
    /// A PEM file of CAs to trust instead of the system's (a private CA).
    public let caFile: String?

    public init(config: ConfigSection) throws {
        let smtp = config.section("mail.smtp")
        host = try smtp.optionalString("host").flatMap { $0.isEmpty ? nil : $0 }
        port = try smtp.int("port", default: 587, in: 1...65535)
        security = try smtp.choice("security", default: SMTPSubmission.Security.starttls)
        user = try smtp.optionalString("user").flatMap { $0.isEmpty ? nil : $0 }
        password = try smtp.optionalString("password", isSecret: true)
        timeout = try smtp.int("timeout", default: 30, in: 1...600)
        caFile = try smtp.optionalString("caFile").flatMap { $0.isEmpty ? nil : $0 }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw smtp.issue("caFile", "cannot read \(caFile)")
        }
    }

    public var isConfigured: Bool { host != nil }

    public var details: JSONValue {
        .object([
            ("host", .string(host)), ("port", .int(port)), ("security", .string(security.rawValue)),
            ("user", .string(user)),
        ])
    }

    public func send(_ message: MailMessage, from: MailAddress) async throws -> String {
        guard let host else { throw MailError(.notConfigured, "mail.smtp.host is not set") }
        let mime = MIMEMessage(message, from: from)
        do {
            _ = try await Curl.shared.send(
                SMTPSubmission(
                    host: host,
                    port: port,
                    security: security,
                    username: user,
                    password: password,
                    from: from.address,
                    recipients: [message.to],
                    message: mime.bytes,
                    timeout: Double(timeout),
                    caFile: caFile
                )
            )
        } catch let error as CurlError {
            throw MailError(error, hiding: [password ?? ""])
        }
        return mime.messageId
    }
}
