import Foundation
import GatehouseCore
import Logging
import ServiceLifecycle

/// Delivers the outbox: takes due mails one at a time per lane, sends each through the current
/// provider, and records the outcome. Transient failures are retried with exponential backoff
/// up to `mail.outbox.maxAttempts`; permanent ones are recorded and given up. A mail recorded as
/// sent is never claimed again. On start, mails left `sending` by a process that died go back to
/// `pending` (one Gatehouse process per database). At shutdown each lane finishes the delivery
/// it is in and stops.
struct OutboxWorker: Service {
    let core: Core
    let activity: OutboxActivity

    func run() async throws {
        do {
            let released = try await core.store.releaseClaimedMail()
            if released > 0 { core.logger.notice("outbox: \(released) interrupted deliveries will be retried") }
        } catch {
            core.logger.error("outbox: cannot release interrupted deliveries: \(error)")
        }
        let lanes = core.settings.mail.outbox.concurrency
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<lanes { group.addTask { await lane(polling: index == 0) } }
        }
    }

    /// One delivery loop: claim, send, record; idle until nudged or the next due time. The
    /// `polling` lane also looks each second for mail queued by another process (the CLI).
    func lane(polling: Bool) async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                activity.claimed()
                if let mail = try await core.store.claimDueMail(now: Date()) {
                    // There may be more: the other lanes look too.
                    core.outboxNudge.signal()
                    activity.started(mail.id)
                    await deliver(mail)
                    activity.finished(mail.id)
                    continue
                }
            } catch {
                core.logger.error("outbox: store error: \(error)")
            }
            let wait = await idleTime(polling: polling)
            await cancelWhenGracefulShutdown { await core.outboxNudge.wait(timeout: wait) }
        }
    }

    /// Until the next pending mail is due: at most a second for the polling lane (mail queued
    /// by another process is picked up within that), a minute for the others, which mail queued
    /// here or found by the polling lane wakes.
    func idleTime(polling: Bool) async -> Duration {
        let longest: Double = polling ? 1 : 60
        guard let due = try? await core.store.nextMailDue() else { return .seconds(longest) }
        let seconds = min(longest, max(0.01, due.timeIntervalSinceNow))
        return .milliseconds(Int(seconds * 1000))
    }

    func deliver(_ mail: OutboxMail) async {
        let settings = core.settings.mail
        let provider = core.mail.provider
        do {
            let messageId = try await provider.send(mail.message, from: settings.from)
            try await core.store.recordMailSent(id: mail.id, messageId: messageId, at: Date())
            core.metrics.delivery(provider: type(of: provider).providerName, outcome: "sent")
            core.logger.info("outbox: mail \(mail.id) delivered", metadata: ["messageId": "\(messageId)"])
        } catch {
            let failure = (error as? MailError) ?? MailError(.unavailable, "\(error)")
            do {
                if failure.isTransient && mail.attempts < settings.outbox.maxAttempts {
                    let delay = min(
                        Double(settings.outbox.maxDelay),
                        Double(settings.outbox.retryDelay) * pow(2, Double(mail.attempts - 1))
                    )
                    try await core.store.recordMailRetry(
                        id: mail.id,
                        attempt: mail.attempts,
                        error: failure.message,
                        nextAttemptAt: Date().addingTimeInterval(delay)
                    )
                    core.metrics.delivery(provider: type(of: provider).providerName, outcome: "retry")
                    core.logger.warning(
                        "outbox: mail \(mail.id) attempt \(mail.attempts) failed, retry in \(Int(delay)) s: \(failure.message)"
                    )
                } else {
                    try await core.store.recordMailFailed(id: mail.id, attempt: mail.attempts, error: failure.message)
                    core.metrics.delivery(provider: type(of: provider).providerName, outcome: "failed")
                    core.logger.error(
                        "outbox: mail \(mail.id) given up after \(mail.attempts) attempts: \(failure.message)"
                    )
                }
            } catch {
                core.logger.error("outbox: cannot record the outcome of mail \(mail.id): \(error)")
            }
        }
    }
}
