import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

/// The outbox lanes sleep while there is nothing to send: on an empty queue each asks the store
/// at most once per poll interval (a second), and with a mail failing and waiting for its retry
/// they sleep until it is due.
@Suite struct OutboxIdleTests {
    @Test func anIdleOutboxPollsAtMostOncePerLanePerSecond() async throws {
        let server = try await TestServer()
        defer { Task { await server.stop() } }
        let lanes = server.core.settings.mail.outbox.concurrency
        try await Task.sleep(for: .milliseconds(500))
        let before = server.host.outboxActivity.claims
        try await Task.sleep(for: .seconds(4))
        let claims = server.host.outboxActivity.claims - before
        // One per lane per second, and one more each for a poll that straddles the window.
        #expect(claims <= lanes * 5, "\(claims) claims by \(lanes) lanes in 4 s")
        #expect(claims >= lanes, "each lane polls")
    }

    @Test func aFailingMailWaitingForItsRetryIsNotPolledFor() async throws {
        // Nothing listens on port 1: each attempt fails at once; the retry is 30 s away.
        let server = try await TestServer(yaml: smtpYAML(port: 1, extra: "  outbox:\n    retryDelay: 30"))
        defer { Task { await server.stop() } }
        let lanes = server.core.settings.mail.outbox.concurrency
        try await server.core.mail.enqueue([
            MailMessage(to: "ada@example.test", subject: "Hello", text: "1", html: "<p>1</p>")
        ])
        let deadline = Date().addingTimeInterval(10)
        while try await server.outboxMails().first?.lastError == nil, Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let before = server.host.outboxActivity.claims
        try await Task.sleep(for: .seconds(4))
        let claims = server.host.outboxActivity.claims - before
        #expect(claims <= lanes * 5, "\(claims) claims by \(lanes) lanes in 4 s")
        #expect(claims >= lanes, "each lane polls")
        let mail = try #require(try await server.outboxMails().first)
        #expect(mail.attempts == 1 && mail.status == .pending)
    }
}
