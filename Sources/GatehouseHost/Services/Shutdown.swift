import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// What the outbox lanes are doing, for the shutdown report and the tests: the mails being
/// delivered now, and how many times a lane has asked the store for due mail.
final class OutboxActivity: Sendable {
    private let state = Mutex<(delivering: Set<String>, claims: Int)>(([], 0))

    var claims: Int { state.withLock { $0.claims } }
    var delivering: Set<String> { state.withLock { $0.delivering } }

    func claimed() { state.withLock { $0.claims += 1 } }
    func started(_ id: String) { state.withLock { _ = $0.delivering.insert(id) } }
    func finished(_ id: String) { state.withLock { _ = $0.delivering.remove(id) } }
}

/// Bounds a graceful shutdown by `server.shutdownTimeout`. It is the last service of the
/// process's group, so the first to hear SIGTERM or SIGINT: it starts a timer outside Swift's
/// task pool (which may be what is stuck) and returns, letting the rest shut down in turn. If
/// the process has not finished when the timer fires, or a second SIGTERM or SIGINT comes, it
/// logs what was still running and exits 1.
struct ShutdownWatch: Service {
    let host: GatehouseServer

    func run() async throws {
        // Cancelled instead (a service failed): the group is ending; bound that too.
        try? await gracefulShutdown()
        let timeout = host.core.settings.server.shutdownTimeout
        host.shutdown.withLock { $0.started = .now }
        host.logger.notice("shutting down: no new connections; finishing requests in flight (at most \(timeout) s)")
        let host = self.host
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(timeout)) {
            host.abortShutdown("shutdown did not finish within server.shutdownTimeout (\(timeout) s)")
        }
        // ServiceLifecycle ignores these signals once it has heard one: a second one aborts.
        host.shutdown.withLock { state in
            for signal in [SIGTERM, SIGINT] {
                let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
                source.setEventHandler { host.abortShutdown("a second SIGTERM or SIGINT during the shutdown") }
                source.resume()
                state.signalSources.append(source)
            }
        }
    }
}

/// The shutdown's progress: when it began, whether it is over, and the signal sources that
/// abort it.
struct ShutdownState: ~Copyable {
    var started: ContinuousClock.Instant?
    var finished = false
    var signalSources: [any DispatchSourceSignal] = []
}

extension GatehouseServer {
    /// Ends the process with status 1, saying why and what was still running; nothing when the
    /// shutdown has finished already.
    func abortShutdown(_ reason: String) {
        guard !shutdown.withLock({ $0.finished }) else { return }
        logger.critical("\(reason); still running: \(stillRunning()); exiting with status 1")
        _exit(1)
    }

    /// What a shutdown is waiting for, in words.
    func stillRunning() -> String {
        var parts: [String] = []
        let requests = connectionLimits.requestsInFlight
        let connections = connectionLimits.openConnections
        if requests > 0 { parts.append("\(requests) request\(requests == 1 ? "" : "s") in flight") }
        if connections > 0 { parts.append("\(connections) connection\(connections == 1 ? "" : "s") open") }
        let mails = outboxActivity.delivering.sorted()
        if !mails.isEmpty {
            parts.append(
                "\(mails.count) outbox deliver\(mails.count == 1 ? "y" : "ies") (mail \(mails.joined(separator: ", "))), back to pending at the next start"
            )
        }
        return parts.isEmpty ? "closing the database" : parts.joined(separator: "; ")
    }
}
