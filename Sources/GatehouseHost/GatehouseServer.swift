import Foundation
import GatehouseCore
import GatehousePostgres
import GatehouseStore
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The running service: the config source, the core built from it, and the HTTP application.
public final class GatehouseServer: Sendable {
    public let source: ConfigSource
    public let core: Core
    let logger: Logger
    /// The connection limits (and the count of connections and requests they keep).
    let connectionLimits: ConnectionLimits
    /// What the outbox lanes are doing.
    let outboxActivity = OutboxActivity()
    /// When SIGTERM or SIGINT was heard, and whether the shutdown is over.
    let shutdown = Mutex(ShutdownState())
    /// Where the core's metrics land, and what a scrape reads.
    let exporter: MetricsExporter
    /// The routes the last `application()` mounted (`METHOD /path/{parameter}`).
    let mountedRoutes = Mutex<[String]>([])

    init(source: ConfigSource, core: Core, exporter: MetricsExporter, logger: Logger) {
        self.source = source
        self.core = core
        self.exporter = exporter
        self.logger = logger
        let server = core.settings.server
        connectionLimits = ConnectionLimits(
            readTimeout: server.readTimeout,
            maxConnections: server.maxConnections ?? ConnectionLimits.defaultMaxConnections()
        )
    }

    /// Loads and validates the config, opens the store and brings its schema up to date.
    public static func boot(_ source: ConfigSource, logger: Logger) async throws -> GatehouseServer {
        try await boot(source, runtime: try await ConfigLoader.load(source), logger: logger)
    }

    /// The same, with the config already loaded from `source` (`serve` reads it first for the
    /// log settings; reading it twice cost a start half its time).
    public static func boot(_ source: ConfigSource, runtime: Runtime, logger: Logger) async throws -> GatehouseServer {
        let settings = runtime.settings
        let (store, secretKey) = try await openStore(settings, logger: logger)
        let exporter = MetricsExporter()
        return GatehouseServer(
            source: source,
            core: Core(store: store, runtime: runtime, secretKey: secretKey, logger: logger, metrics: exporter.metrics),
            exporter: exporter,
            logger: logger
        )
    }

    /// The store `settings.database` names, its schema brought up to date, and the server key: SQLite at
    /// `database.path`, or PostgreSQL at `database.url` (where the key is checked against the
    /// one the database was set up with).
    public static func openStore(
        _ settings: CoreSettings,
        logger: Logger
    ) async throws -> (any GatehouseStore, SecretKey) {
        let database = settings.database
        if let url = database.url {
            let store = try PostgresStore(
                url: url,
                tls: database.tls,
                caFile: database.caFile,
                outboxLease: TimeInterval(settings.mail.outbox.lease),
                logger: logger
            )
            do {
                return (store, try await store.migrateAndLoadKey(keyFile: database.keyFile))
            } catch {
                try? await store.close()
                throw error
            }
        }
        let store = try SQLiteStore(path: database.path, busyTimeout: TimeInterval(database.busyTimeout))
        try await store.migrate()
        return (store, try SecretKey.loadOrCreate(path: database.keyFile))
    }

    /// Builds the HTTP application. `onListening` gets the bound port (useful with port 0).
    public func application(
        services: [any Service] = [],
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: GatehouseContext.self)
        let routes = RouteTable(router: router)
        // Order matters: Hummingbird binds middleware to the routes added after it.
        routes.add(middleware: RequestLogMiddleware(metrics: core.metrics))
        routes.add(middleware: ErrorMiddleware(routes: routes, core: core))
        routes.add(middleware: ClientAddressMiddleware(core: core))
        HealthRoutes.mount(on: routes.group(), core: core)
        routes.add(middleware: AuthenticationMiddleware(core: core))
        routes.add(middleware: CrossSiteRequestMiddleware(core: core))
        routes.add(middleware: RequestPolicyMiddleware(core: core))
        AdminRoutes.mount(on: routes.group(), host: self)
        for module in core.runtime.modules {
            if let routeModule = type(of: module) as? any RouteModule.Type {
                routeModule.mount(on: routes.group(), core: core)
            }
        }

        mountedRoutes.withLock { $0 = routes.routes }
        let settings = core.settings
        let logger = self.logger
        let limits = connectionLimits
        return Application(
            router: router,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: limits.handlers(),
                    idleTimeout: .seconds(Int64(settings.server.idleTimeout))
                )
            ),
            configuration: ApplicationConfiguration(
                address: .hostname(settings.server.host, port: settings.server.port),
                serverName: "Gatehouse",
                // A burst of connections waits in the kernel's queue (capped by somaxconn)
                // instead of overflowing Hummingbird's default of 256, which leaves clients
                // retransmitting to a server that never saw them.
                backlog: 4096
            ),
            services: services + [SessionSweeper(core: core), OutboxWorker(core: core, activity: outboxActivity)],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.server.port
                logger.notice("listening on \(settings.server.host):\(port)")
                await onListening(port)
            },
            logger: logger
        )
    }

    /// Serves until SIGTERM or SIGINT, reloading the config on SIGHUP. A shutdown stops
    /// accepting, answers the requests in flight, lets the outbox lanes finish their current
    /// delivery and closes the database, within `server.shutdownTimeout` (see `ShutdownWatch`).
    public func run() async throws {
        let modules = core.runtime.modules.map { type(of: $0).id }.joined(separator: ", ")
        logger.notice("modules: \(modules)")
        if let warning = core.mail.provider.startWarning { logger.warning("\(warning)") }
        let app = application(services: [
            ReloadService(host: self), MetricsService(core: core, exporter: exporter, logger: logger),
        ])
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                // Services shut down last to first: the watch hears the signal first.
                services: [app, ShutdownWatch(host: self)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        do {
            try await core.store.close()
        } catch {
            shutdown.withLock { $0.finished = true }
            logger.error("closing the database failed: \(error)")
            throw error
        }
        let started = shutdown.withLock { state in
            state.finished = true
            return state.started
        }
        if let started {
            let elapsed = (ContinuousClock.now - started).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            logger.notice("stopped cleanly in \(String(format: "%.2f", seconds)) s")
        }
    }

    /// Reads the config again; installs it whole if it is valid and changes nothing that needs a
    /// restart, else throws and leaves the running config in force.
    public func reload() async throws {
        let runtime = try await ConfigLoader.load(source)
        let old = core.runtime
        var issues = runtime.settings.restartRequired(comparedWith: old.settings).map {
            ConfigIssue(path: $0, message: "changing this needs a restart")
        }
        let routeIDs = { (r: Runtime) in r.modules.filter { type(of: $0).kind == .routes }.map { type(of: $0).id } }
        if routeIDs(old) != routeIDs(runtime) {
            issues.append(ConfigIssue(path: "modules", message: "adding or removing route modules needs a restart"))
        }
        guard issues.isEmpty else { throw ConfigRefused(issues: issues) }
        core.install(runtime)
    }
}

/// `GET /health` (the process answers), `GET /ready` (the database answers too), and the API's
/// description, `GET /openapi.yaml` and `/openapi.json`.
enum HealthRoutes {
    static func mount(on router: RouterGroup<GatehouseContext>, core: Core) {
        router.get("health") { _, _ in JSONReply(.object([("status", "ok")])) }
        router.get("openapi.yaml") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/yaml; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml))
            )
        }
        router.get("openapi.json") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.json))
            )
        }
        router.get("ready") { _, context in
            do {
                try await core.store.ping()
            } catch {
                context.logger.error("readiness check failed: database did not answer")
                throw GatehouseError.unavailable("Database unavailable")
            }
            return JSONReply(.object([("status", "ready")]))
        }
    }
}

/// `POST /api/admin/reload` (CONTRACT §8): what SIGHUP does, for a rootAdmin over HTTP.
enum AdminRoutes {
    static func mount(on router: RouterGroup<GatehouseContext>, host: GatehouseServer) {
        router.post("api/admin/reload") { _, context in
            let principal = try context.requireSession()
            guard principal.user.role == .rootAdmin else {
                throw GatehouseError.forbidden("Forbidden: rootAdmin access required")
            }
            do {
                try await host.reload()
            } catch let refused as ConfigRefused {
                host.core.metrics.reload(ok: false)
                host.logger.error("config reload refused, the running config stays in force:\n\(refused)")
                throw GatehouseError.validation(refused.issues.map { FieldIssue(field: $0.path, message: $0.message) })
            } catch {
                host.core.metrics.reload(ok: false)
                host.logger.error("config reload refused, the running config stays in force:\n\(error)")
                throw GatehouseError.badRequest("Config reload refused: \(error)")
            }
            host.core.metrics.reload(ok: true)
            host.logger.notice("config reloaded (by \(principal.user.id))")
            return JSONReply(.success)
        }
    }
}
