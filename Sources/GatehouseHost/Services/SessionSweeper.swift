import GatehouseCore
import Logging
import ServiceLifecycle

/// Deletes expired sessions every hour (and once at start), so the table does not grow forever.
struct SessionSweeper: Service {
    let core: Core

    func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            do {
                let removed = try await core.sessions.purgeExpired()
                if removed > 0 { core.logger.info("removed \(removed) expired sessions") }
            } catch {
                core.logger.warning("expired-session sweep failed: \(error)")
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool {
        Task.isCancelled || Task.isShuttingDownGracefully
    }
}
