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
/// the process is still there when the timer fires, it logs what was still running and exits 1.
struct ShutdownWatch: Service {
    let host: GatehouseServer

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is ending anyway
        }
        let timeout = host.core.settings.server.shutdownTimeout
        let started = ContinuousClock.now
        host.shutdownStarted.withLock { $0 = started }
        host.logger.notice("shutting down: no new connections; finishing requests in flight (at most \(timeout) s)")
        let host = self.host
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(timeout)) {
            host.logger.critical(
                "shutdown did not finish within server.shutdownTimeout (\(timeout) s); still running: \(host.stillRunning()); exiting with status 1"
            )
            exit(1)
        }
    }
}

extension GatehouseServer {
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
