import Foundation
import Mustache

/// Mail templates: `Templates/<name>.txt.mustache` and `<name>.html.mustache`, shipped with the
/// core as files and loaded once.
public struct MailTemplates: Sendable {
    let templates: [String: MustacheTemplate]

    public static let shared: MailTemplates = {
        var templates: [String: MustacheTemplate] = [:]
        if let directory = Bundle.module.resourceURL?.appendingPathComponent("Templates"),
            let files = try? FileManager.default.contentsOfDirectory(atPath: directory.path)
        {
            for file in files where file.hasSuffix(".mustache") {
                let url = directory.appendingPathComponent(file)
                if let text = try? String(contentsOf: url, encoding: .utf8),
                    let template = try? MustacheTemplate(string: text)
                {
                    templates[String(file.dropLast(".mustache".count))] = template
                }
            }
        }
        return MailTemplates(templates: templates)
    }()

    /// Renders `<name>.txt` and `<name>.html` with `values`.
    public func render(_ name: String, _ values: [String: String]) throws -> (text: String, html: String) {
        guard let text = templates["\(name).txt"], let html = templates["\(name).html"] else {
            throw MailError(.notConfigured, "mail template \"\(name)\" is missing")
        }
        return (text.render(values), html.render(values))
    }
}

/// Sending mail: at once (the admin test) or through the outbox (mail caused by a change).
public struct MailService: Sendable {
    let core: Core

    /// The provider chosen by `mail.provider` in the config now in force.
    public var provider: any MailProvider { core.runtime.mailer }

    /// The test mail for `address`, rendered from the `test` templates.
    public func testMessage(to address: String) throws -> MailMessage {
        let settings = core.settings.mail
        let body = try MailTemplates.shared.render(
            "test",
            [
                "productName": settings.productName,
                "provider": type(of: provider).providerName,
                "sentAt": Timestamp.string(Date()),
            ]
        )
        return MailMessage(to: address, subject: settings.testSubject, text: body.text, html: body.html)
    }

    /// Sends the test mail to `address` now, through the current provider; returns its message id.
    public func sendTest(to address: String) async throws -> String {
        let settings = core.settings.mail
        let provider = self.provider
        let message = try testMessage(to: address)
        guard provider.isConfigured else {
            throw MailError(.notConfigured, "the \(type(of: provider).providerName) provider is not configured")
        }
        return try await provider.send(message, from: settings.from)
    }

    /// Queues a mail for delivery; use the store's transaction-taking form to queue it with the
    /// change that causes it.
    public func enqueue(_ messages: [MailMessage]) async throws {
        let now = Date()
        try await core.store.enqueueMails(messages.map { OutboxMail(message: $0, now: now) })
        core.outboxNudge.signal()
    }
}
