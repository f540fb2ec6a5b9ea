import CoreMetrics
import Foundation
import Synchronization

/// The service's numbers, through swift-metrics with a factory of the host's choosing (the
/// host's is Prometheus, served on its own listener; without one they go nowhere). Each name
/// keeps one set of labels. What is counted where:
///
/// - `gatehouse_http_requests_total{route,method,status}` and
///   `gatehouse_http_request_duration_seconds{route,method}`: every request, by route template.
/// - `gatehouse_sign_ins_total{outcome}`: `ok`, `failed`, `locked`, `two_factor` (a second
///   factor owed).
/// - `gatehouse_registrations_total`.
/// - `gatehouse_password_hash_duration_seconds`; `gatehouse_password_hashes_queued` and
///   `_running` (read when scraped); `gatehouse_password_hashes_shed_total` (refused, the
///   queue full).
/// - `gatehouse_session_cache_lookups_total{result}`: `hit`, `miss` (read when scraped).
/// - `gatehouse_outbox_mails{status}` (read when scraped);
///   `gatehouse_mail_deliveries_total{provider,outcome}` (`sent`, `retry`, `failed`) and
///   `gatehouse_mail_retries_total`.
/// - `gatehouse_config_reloads_total{outcome}`: `ok`, `refused`.
public final class GatehouseMetrics: Sendable {
    public let factory: any MetricsFactory

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
        // Counters that exist from the start at 0, so a dashboard's rate() has a series before
        // the first event.
        _ = Counter(label: "gatehouse_registrations_total", factory: factory)
        _ = Counter(label: "gatehouse_mail_retries_total", factory: factory)
        _ = Counter(label: "gatehouse_password_hashes_shed_total", factory: factory)
        for outcome in ["ok", "failed", "locked", "two_factor"] {
            _ = Counter(label: "gatehouse_sign_ins_total", dimensions: [("outcome", outcome)], factory: factory)
        }
        for outcome in ["ok", "refused"] {
            _ = Counter(label: "gatehouse_config_reloads_total", dimensions: [("outcome", outcome)], factory: factory)
        }
    }

    public enum SignInOutcome: String, Sendable {
        case ok, failed, locked
        case twoFactor = "two_factor"
    }

    struct RequestSeries: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    /// The handles of each request series, made once: a new handle costs the factory a lookup
    /// under its lock and the labels' strings, on every request.
    private let requestSeries = Mutex<[RequestSeries: (count: CoreMetrics.Counter, time: CoreMetrics.Timer)]>([:])

    public func request(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestSeries(route: route, method: method, status: status)
        let handles =
            requestSeries.withLock { $0[key] }
            ?? {
                let made = (
                    count: Counter(
                        label: "gatehouse_http_requests_total",
                        dimensions: [("route", route), ("method", method), ("status", String(status))],
                        factory: factory
                    ),
                    time: Timer(
                        label: "gatehouse_http_request_duration_seconds",
                        dimensions: [("route", route), ("method", method)],
                        factory: factory
                    )
                )
                // Routes are templates and methods and statuses few, so this stays small.
                requestSeries.withLock { $0[key] = made }
                return made
            }()
        handles.count.increment()
        handles.time.recordNanoseconds(Self.nanoseconds(duration))
    }

    public func signIn(_ outcome: SignInOutcome) {
        Counter(label: "gatehouse_sign_ins_total", dimensions: [("outcome", outcome.rawValue)], factory: factory)
            .increment()
    }

    public func registration() {
        Counter(label: "gatehouse_registrations_total", factory: factory).increment()
    }

    public func passwordHash(took duration: Duration) {
        Timer(label: "gatehouse_password_hash_duration_seconds", factory: factory)
            .recordNanoseconds(Self.nanoseconds(duration))
    }

    public func passwordHashShed() {
        Counter(label: "gatehouse_password_hashes_shed_total", factory: factory).increment()
    }

    public func delivery(provider: String, outcome: String) {
        Counter(
            label: "gatehouse_mail_deliveries_total",
            dimensions: [("provider", provider), ("outcome", outcome)],
            factory: factory
        ).increment()
        if outcome == "retry" { Counter(label: "gatehouse_mail_retries_total", factory: factory).increment() }
    }

    public func reload(ok: Bool) {
        Counter(
            label: "gatehouse_config_reloads_total",
            dimensions: [("outcome", ok ? "ok" : "refused")],
            factory: factory
        ).increment()
    }

    /// Sets a gauge (a value read when scraped).
    public func gauge(_ name: String, _ dimensions: [(String, String)] = [], value: Double) {
        Gauge(label: name, dimensions: dimensions, factory: factory).record(value)
    }

    /// Adds to a counter kept elsewhere (a running total read when scraped).
    public func count(_ name: String, _ dimensions: [(String, String)] = [], by amount: Int) {
        guard amount > 0 else { return }
        Counter(label: name, dimensions: dimensions, factory: factory).increment(by: amount)
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
