import Foundation
import Synchronization

/// A mail waiting in (or done with) the outbox.
public struct OutboxMail: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        /// Waiting for `nextAttemptAt`.
        case pending
        /// Claimed by a delivery in progress.
        case sending
        /// Delivered: never sent again.
        case sent
        /// Given up: a permanent refusal, or out of attempts.
        case failed
    }

    public var id: String
    public var to: String
    public var subject: String
    public var text: String
    public var html: String
    public var status: Status
    /// Delivery attempts started so far.
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastError: String?
    public var messageId: String?
    public var createdAt: Date
    public var sentAt: Date?
    /// The template it was made from (`verify-email`, `password-reset`, ...), for admins.
    public var template: String?

    public init(message: MailMessage, now: Date, template: String? = nil) {
        self.template = template
        id = Identifier.make(now: now)
        to = message.to
        subject = message.subject
        text = message.text
        html = message.html
        status = .pending
        attempts = 0
        nextAttemptAt = now
        createdAt = now
    }

    public init(
        id: String,
        to: String,
        subject: String,
        text: String,
        html: String,
        status: Status,
        attempts: Int,
        nextAttemptAt: Date,
        lastError: String?,
        messageId: String?,
        createdAt: Date,
        sentAt: Date?,
        template: String? = nil
    ) {
        self.template = template
        self.id = id
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.messageId = messageId
        self.createdAt = createdAt
        self.sentAt = sentAt
    }

    public var message: MailMessage { MailMessage(to: to, subject: subject, text: text, html: html) }
}

/// The outbox table, as the worker reaches it.
public protocol OutboxStore: Sendable {
    func enqueueMail(_ mail: OutboxMail) async throws
    /// Queues several mails in one transaction.
    func enqueueMails(_ mails: [OutboxMail]) async throws
    /// Atomically takes the oldest due pending mail: marks it `sending` and counts the attempt.
    func claimDueMail(now: Date) async throws -> OutboxMail?
    func recordMailSent(id: String, messageId: String, at: Date) async throws
    /// The outcome of the claim that counted `attempt`; nothing changes when the mail is no
    /// longer that claim's (another process took it over when its lease ran out, or sent it).
    func recordMailRetry(id: String, attempt: Int, error: String, nextAttemptAt: Date) async throws
    func recordMailFailed(id: String, attempt: Int, error: String) async throws
    /// Puts mails left `sending` by a process that died back to `pending`; returns how many.
    @discardableResult func releaseClaimedMail() async throws -> Int
    /// When the next pending mail is due, if any.
    func nextMailDue() async throws -> Date?
    func outboxMail(id: String) async throws -> OutboxMail?
    /// The newest mails first, of one status or all, older than the mail `before` (keyset
    /// pagination).
    func outboxMails(status: OutboxMail.Status?, before: String?, limit: Int) async throws -> [OutboxMail]
    /// Puts a failed mail back to pending, due now, with its attempts counted from 0 again (its
    /// last error stays until the next attempt); false when there is no failed mail `id`.
    func retryFailedMail(id: String, now: Date, audit: AuditEvent) async throws -> Bool
}

/// Wakes the outbox worker when a mail is queued, instead of waiting for its next poll.
///
/// A waiter is a continuation held under a lock, resumed by whichever comes first: `signal()`,
/// its timeout, or the cancellation of its task. Whoever takes it out of the table resumes it,
/// so it is resumed exactly once. (An `AsyncStream` raced against a sleep does not work:
/// cancelling the task that waits on the stream's iterator ends the stream, and from then on
/// every wait returns at once: an idle loop that burns the CPU.)
public final class Nudge: Sendable {
    private struct State {
        /// A signal that came while nobody waited: the next wait returns at once.
        var pending = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextId = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Wakes every waiter, or the next wait when there is none.
    public func signal() {
        let waiters = state.withLock { state in
            if state.waiters.isEmpty { state.pending = true }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns after a signal, after `timeout`, or when the task is cancelled, whichever is
    /// first.
    public func wait(timeout: Duration) async {
        let id = state.withLock { state in
            state.nextId += 1
            return state.nextId
        }
        var timer: Task<Void, Never>?
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    // Checked under the lock: a cancellation handler that ran before this found
                    // nothing to resume, but the task is marked cancelled by then.
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow {
                    continuation.resume()
                } else {
                    timer = Task {
                        try? await Task.sleep(for: timeout)
                        self.wake(id)
                    }
                }
            }
        } onCancel: {
            wake(id)
        }
        timer?.cancel()
    }

    /// Resumes waiter `id` if it is still waiting.
    private func wake(_ id: Int) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
    }
}
