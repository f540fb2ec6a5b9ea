import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

/// The outbox lanes sleep while there is nothing to send: on an empty queue each asks the store
/// at most once per poll interval (a second), and with a mail failing and waiting for its retry
/// they sleep until it is due.
@Suite struct OutboxIdleTests {
    /// Claims by the lanes over about 4 s, checked against the time that really passed (a
    /// loaded machine may run the test late): at most one per lane per second, plus one each
    /// for a poll that straddles the window. And the lanes are alive: each polls.
    func expectIdlePolling(_ server: TestServer) async throws {
        let lanes = server.core.settings.mail.outbox.concurrency
        let start = ContinuousClock.now
        let before = server.host.outboxActivity.claims
        try await Task.sleep(for: .seconds(4))
        let claims = server.host.outboxActivity.claims - before
        let seconds = Int((ContinuousClock.now - start).components.seconds) + 1
        #expect(claims <= lanes * (seconds + 1), "\(claims) claims by \(lanes) lanes in \(seconds) s")
        let deadline = Date().addingTimeInterval(30)
        while server.host.outboxActivity.claims - before < lanes, Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(server.host.outboxActivity.claims - before >= lanes, "each lane polls")
    }

    @Test func anIdleOutboxPollsAtMostOncePerLanePerSecond() async throws {
        try await TestServer.run { server in
            try await Task.sleep(for: .milliseconds(500))
            try await expectIdlePolling(server)
        }
    }

    @Test func aFailingMailWaitingForItsRetryIsNotPolledFor() async throws {
        // Nothing listens on port 1: each attempt fails at once; the retry is 30 s away.
        try await TestServer.run(yaml: smtpYAML(port: 1, extra: "  outbox:\n    retryDelay: 30")) { server in
            try await server.core.mail.enqueue([
                MailMessage(to: "ada@example.test", subject: "Hello", text: "1", html: "<p>1</p>")
            ])
            let deadline = Date().addingTimeInterval(10)
            while try await server.outboxMails().first?.lastError == nil, Date() < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            try await expectIdlePolling(server)
            let mail = try #require(try await server.outboxMails().first)
            #expect(mail.attempts == 1 && mail.status == .pending)
        }
    }
}
