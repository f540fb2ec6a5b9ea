import Foundation
import GatehouseCore
import GatehouseStore
import TestSupport
import Testing

@testable import GatehouseHost

/// The outbox lanes sleep while there is nothing to send: on an empty queue one of them asks the
/// store once per poll interval (a second) for mail queued by another process, the others sleep
/// until mail is queued here; with a mail failing and waiting for its retry they sleep until it
/// is due.
@Suite struct OutboxIdleTests {
    /// Claims over about 4 s, checked against the time that really passed (a loaded machine may
    /// run the test late): at most one per second, plus one for a poll that straddles the
    /// window, and one each for the lanes that were still settling. And the polling lane is
    /// alive.
    func expectIdlePolling(_ server: TestServer) async throws {
        let lanes = server.core.settings.mail.outbox.concurrency
        let start = ContinuousClock.now
        let before = server.host.outboxActivity.claims
        try await Task.sleep(for: .seconds(4))
        let claims = server.host.outboxActivity.claims - before
        let seconds = Int((ContinuousClock.now - start).components.seconds) + 1
        #expect(claims <= seconds + lanes, "\(claims) claims by \(lanes) lanes in \(seconds) s")
        try await eventually(every: .milliseconds(100)) { server.host.outboxActivity.claims - before >= claims + 2 }
        #expect(server.host.outboxActivity.claims - before >= claims + 2, "the polling lane polls")
    }

    @Test func anIdleOutboxPollsAtMostOncePerSecond() async throws {
        try await TestServer.run { server in
            try await Task.sleep(for: .milliseconds(500))
            try await expectIdlePolling(server)
        }
    }

    @Test func aFailingMailWaitingForItsRetryIsNotPolledFor() async throws {
        // Nothing listens on port 1: each attempt fails at once; the retry is 300 s away.
        try await TestServer.run(yaml: smtpYAML(port: 1, extra: "  outbox:\n    retryDelay: 300")) { server in
            try await server.core.mail.enqueue([
                MailMessage(to: "ada@example.test", subject: "Hello", text: "1", html: "<p>1</p>")
            ])
            #expect(try await eventually { try await server.outboxMails().first?.lastError != nil })
            try await expectIdlePolling(server)
            let mail = try #require(try await server.outboxMails().first)
            #expect(mail.attempts == 1 && mail.status == .pending)
        }
    }

    @Test func mailQueuedByAnotherProcessIsPickedUpByThePollingLane() async throws {
        let smtp = try await SMTPServer()
        defer { smtp.stop() }
        try await TestServer.run(yaml: smtpYAML(port: smtp.port)) { server in
            // Another connection to the same file (as the CLI has): no nudge reaches the server.
            let other = try SQLiteStore(
                path: server.directory.appendingPathComponent("data/gatehouse.sqlite").path
            )
            let message = MailMessage(to: "ada@example.test", subject: "From the CLI", text: "1", html: "<p>1</p>")
            try await other.enqueueMail(OutboxMail(message: message, now: Date()))
            try await other.close()
            // The lane looks each second; the slack is for a loaded machine.
            let received = try await smtp.waitForMessages(1)
            #expect(ParsedMail(received[0].raw).header("Subject") == "From the CLI")
        }
    }
}
