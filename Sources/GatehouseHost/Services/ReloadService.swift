import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the config on SIGHUP. A refused config is logged and the old one keeps serving.
struct ReloadService: Service {
    let host: GatehouseServer

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                try await host.reload()
                host.core.metrics.reload(ok: true)
                host.logger.notice("config reloaded")
            } catch {
                host.core.metrics.reload(ok: false)
                host.logger.error("config reload refused, the running config stays in force:\n\(error)")
            }
        }
    }
}
