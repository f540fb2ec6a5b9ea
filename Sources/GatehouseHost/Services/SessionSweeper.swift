import Foundation
import GatehouseCore
import Logging
import ServiceLifecycle

/// Every hour (and once at start) deletes expired sessions and the audit events older than
/// `audit.retentionDays`, so neither table grows forever.
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
            do {
                let cutoff = Date().addingTimeInterval(-Double(core.settings.auditRetentionDays) * 86400)
                let removed = try await core.store.deleteAuditEvents(before: cutoff)
                if removed > 0 { core.logger.info("removed \(removed) audit events past their retention") }
            } catch {
                core.logger.warning("audit retention sweep failed: \(error)")
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
