import GatehouseCore
import HTTPTypes
import Hummingbird
import Synchronization

/// The router modules mount on. It forwards every route to Hummingbird's router and keeps a
/// list of (method, path) so that a known path asked with another method answers 405, not 404.
/// The Hummingbird router is touched only while modules mount, before the server starts;
/// afterwards only `entries` is read, under its lock.
final class RouteTable: RouterMethods, @unchecked Sendable {
    typealias Context = GatehouseContext

    let router: Router<GatehouseContext>
    private let entries = Mutex<[(method: HTTPRequest.Method, path: [RouterPath.Element])]>([])

    init(router: Router<GatehouseContext>) {
        self.router = router
    }

    @discardableResult func on<Responder: HTTPResponder>(
        _ path: RouterPath,
        method: HTTPRequest.Method,
        responder: Responder
    ) -> Self where Responder.Context == GatehouseContext {
        entries.withLock { $0.append((method, Array(path))) }
        router.on(path, method: method, responder: responder)
        return self
    }

    @discardableResult func add(middleware: any MiddlewareProtocol<Request, Response, GatehouseContext>) -> Self {
        router.add(middleware: middleware)
        return self
    }

    /// Every route as `METHOD /path/{parameter}`, the form of the OpenAPI document's paths.
    var routes: [String] {
        entries.withLock { entries in
            entries.map { "\($0.method.rawValue) /" + $0.path.map { "\($0)" }.joined(separator: "/") }
        }
    }

    /// Methods served for a concrete path, matched segment by segment as the router does.
    func methods(matching path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        let matching = entries.withLock { entries in
            entries.filter { entry in
                entry.path.count == segments.count
                    && zip(entry.path, segments).allSatisfy { element, segment in element ~= segment }
            }.map(\.method)
        }
        var seen: Set<String> = []
        return matching.filter { seen.insert($0.rawValue).inserted }.sorted { $0.rawValue < $1.rawValue }
    }
}
