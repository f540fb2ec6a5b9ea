import Foundation
import GatehouseCore
import GatehouseStore
import TestSupport
import Testing

/// Mail through the `gatehouse` executable: the CLI test send, and an outbox that survives a
/// killed process.
@Suite(.serialized) struct MailProcessTests {
    func run(_ arguments: [String], environment: [String: String]) async throws -> (Int32, String) {
        let child = try ChildProcess(Paths.gatehouse.path, arguments, environment: environment)
        let status = try await child.wait()
        return (status, child.text)
    }

    func environment(smtpPort: Int, database: String) -> [String: String] {
        [
            "GATEHOUSE_DATABASE_PATH": database,
            "GATEHOUSE_SERVER_HOST": "127.0.0.1",
            "GATEHOUSE_SERVER_PORT": "0",
            "EMAIL_PROVIDER": "smtp",
            "EMAIL_FROM": "Gatehouse <ops@example.test>",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": String(smtpPort),
            "SMTP_SECURE": "false",
            "GATEHOUSE_MAIL_SMTP_SECURITY": "none",
            "GATEHOUSE_MAIL_OUTBOX_RETRY_DELAY": "1",
            "GATEHOUSE_MAIL_OUTBOX_MAX_DELAY": "1",
        ]
    }

    @Test func mailTestSendsThroughTheConfiguredProvider() async throws {
        let smtp = try await SMTPServer()
        defer { smtp.stop() }
        let database = try Paths.temporaryDirectory("e2e-mail").appendingPathComponent("gatehouse.sqlite").path
        let env = environment(smtpPort: smtp.port, database: database)
        let (status, output) = try await run(["mail", "test", "--to", "x@example.test"], environment: env)
        #expect(status == 0, "\(output)")
        let messageId = try #require(
            output.components(separatedBy: "messageId ").last?.trimmingCharacters(in: .whitespacesAndNewlines)
        )
        let received = try smtp.messages()
        #expect(received.count == 1)
        #expect(ParsedMail(received[0].raw).header("Message-ID") == "<\(messageId)>")
        #expect(ParsedMail(received[0].raw).header("Subject") == "Gatehouse Email Test")

        // queue-test goes through the outbox of a running server.
        let server = try ChildProcess(Paths.gatehouse.path, ["serve"], environment: env)
        defer { server.stop() }
        _ = try await server.waitForLine(containing: "listening on")
        let (queued, queueOutput) = try await run(
            ["mail", "queue-test", "--to", "y@example.test", "--count", "3"],
            environment: env
        )
        #expect(queued == 0, "\(queueOutput)")
        let all = try await smtp.waitForMessages(4)
        #expect(all.dropFirst().allSatisfy { $0.envelopeTo == ["y@example.test"] })
        server.stop()

        smtp.stop()
        let (failed, failure) = try await run(["mail", "test", "--to", "x@example.test"], environment: env)
        #expect(failed == 1)
        #expect(failure.contains("the test mail was not sent"))
        let (invalid, invalidOutput) = try await run(["mail", "test", "--to", "nobody"], environment: env)
        #expect(invalid == 1)
        #expect(invalidOutput.contains("invalid email format"))
    }

    @Test func queuedMailSurvivesAKilledProcess() async throws {
        let probe = try await SMTPServer()
        let port = probe.port
        probe.stop()
        let database = try Paths.temporaryDirectory("e2e-outbox").appendingPathComponent("gatehouse.sqlite").path
        let env = environment(smtpPort: port, database: database)

        // A server whose SMTP server is down: the mail fails, is kept, and is retried.
        let first = try ChildProcess(Paths.gatehouse.path, ["serve"], environment: env)
        _ = try await first.waitForLine(containing: "listening on")
        let store = try SQLiteStore(path: database)
        let waiting = OutboxMail(
            message: MailMessage(to: "ada@example.test", subject: "One", text: "1", html: "<p>1</p>"),
            now: Date()
        )
        try await store.enqueueMail(waiting)
        // Wait for a failed attempt to be recorded (the claim counts the attempt before it fails).
        try await eventually { try await store.outboxMail(id: waiting.id)?.lastError != nil }
        let failedOnce = try await store.outboxMail(id: waiting.id)
        #expect(failedOnce?.lastError?.contains("connect") == true)
        #expect(failedOnce?.status != .sent)

        // Killed outright, and a second mail left mid-delivery ("sending") as a dying process leaves it.
        first.signal(SIGKILL)
        _ = try await first.wait()
        let interrupted = OutboxMail(
            message: MailMessage(to: "bob@example.test", subject: "Two", text: "2", html: "<p>2</p>"),
            now: Date()
        )
        try await store.enqueueMail(interrupted)
        let claimed = try await store.claimDueMail(now: Date().addingTimeInterval(60))
        #expect(claimed != nil)
        #expect(try await store.outboxMails().contains { $0.status == .sending })

        // The SMTP server comes back, and so does Gatehouse: both mails arrive, once each.
        let smtp = try await SMTPServer(.init(port: port))
        defer { smtp.stop() }
        let second = try ChildProcess(Paths.gatehouse.path, ["serve"], environment: env)
        defer { second.stop() }
        _ = try await second.waitForLine(containing: "listening on")
        let received = try await smtp.waitForMessages(2)
        try await Task.sleep(for: .seconds(2))
        #expect(try smtp.messages().count == 2)
        #expect(Set(received.flatMap(\.envelopeTo)) == ["ada@example.test", "bob@example.test"])
        // Recorded as sent a moment after the mail server's answer.
        var mails: [OutboxMail] = []
        #expect(
            try await eventually {
                mails = try await store.outboxMails()
                return mails.map(\.status) == [.sent, .sent]
            },
            "\(mails.map(\.status))"
        )
        for mail in mails {
            let delivered = received.first { $0.envelopeTo == [mail.to] }.map { ParsedMail($0.raw) }
            #expect(delivered?.header("Message-ID") == "<\(mail.messageId ?? "")>")
        }
    }
}
