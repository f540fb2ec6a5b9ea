import CoreMetrics
import Foundation
import GatehouseCore
import GatehouseStore
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The Prometheus side of `GatehouseMetrics`: the registry the core's metrics land in, the
/// values read at each scrape (password-hash queue, session-cache lookups, outbox depth, the
/// process), and the text a scrape gets.
final class MetricsExporter: Sendable {
    let registry = PrometheusCollectorRegistry()
    let metrics: GatehouseMetrics
    /// The session-cache totals at the last scrape, to add what came since.
    private let lastLookups = Mutex((hits: 0, misses: 0))
    let started = Date()

    init() {
        metrics = GatehouseMetrics(factory: PrometheusMetricsFactory(registry: registry))
    }

    /// Reads what is read at a scrape, then the registry's text.
    func scrape(core: Core) async -> String {
        metrics.gauge("gatehouse_password_hashes_queued", value: Double(core.passwords.queued))
        metrics.gauge("gatehouse_password_hashes_running", value: Double(core.passwords.running))
        if let store = core.store as? any StoreStatistics {
            let (now, before) = lastLookups.withLock { last in
                let now = store.sessionCacheLookups
                defer { last = now }
                return (now, last)
            }
            metrics.count("gatehouse_session_cache_lookups_total", [("result", "hit")], by: now.hits - before.hits)
            metrics.count("gatehouse_session_cache_lookups_total", [("result", "miss")], by: now.misses - before.misses)
            if let counts = try? await store.outboxCounts() {
                for status in OutboxMail.Status.allCases {
                    metrics.gauge(
                        "gatehouse_outbox_mails",
                        [("status", status.rawValue)],
                        value: Double(counts[status] ?? 0)
                    )
                }
            }
        }
        let process = ProcessStats.read()
        metrics.gauge("process_resident_memory_bytes", value: process.residentBytes)
        metrics.gauge("process_cpu_seconds_total", value: process.cpuSeconds)
        metrics.gauge("process_open_fds", value: process.openDescriptors)
        metrics.gauge("process_start_time_seconds", value: started.timeIntervalSince1970)
        return registry.emitToString()
    }
}

/// This process's resident memory, CPU time and open descriptors, from /proc.
enum ProcessStats {
    static func read() -> (residentBytes: Double, cpuSeconds: Double, openDescriptors: Double) {
        var resident = 0.0
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Double(fields[1]) {
                resident = pages * Double(sysconf(Int32(_SC_PAGESIZE)))
            }
        }
        var cpu = 0.0
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        {
            // After the command name: state is field 3; utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            if fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) {
                cpu = (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
            }
        }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        return (resident, cpu, Double(descriptors))
    }
}

/// Serves `GET /metrics` on `metrics.host:metrics.port` while the server runs. A listener that
/// cannot bind (the port taken) is logged and the service goes on without it: metrics are
/// not worth an outage.
struct MetricsService: Service {
    let core: Core
    let exporter: MetricsExporter
    let logger: Logger

    func run() async throws {
        let settings = core.settings.metrics
        guard settings.enabled else {
            try await gracefulShutdown()
            return
        }
        let router = Router()
        let core = self.core
        let exporter = self.exporter
        router.get("metrics") { _, _ -> Response in
            let text = await exporter.scrape(core: core)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text))
            )
        }
        let logger = self.logger
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(settings.host, port: settings.port),
                serverName: "Gatehouse"
            ),
            onServerRunning: { channel in
                logger.notice("metrics on \(settings.host):\(channel.localAddress?.port ?? settings.port)/metrics")
            },
            logger: Logger(label: "gatehouse.metrics", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        do {
            try await app.runService(gracefulShutdownSignals: [])
        } catch {
            if !Task.isCancelled { logger.error("metrics are not served: \(settings.host):\(settings.port): \(error)") }
        }
        // Stay until the server stops: a service that ends before it is asked to stops the group.
        try? await gracefulShutdown()
    }
}
