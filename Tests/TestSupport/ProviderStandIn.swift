import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A local HTTP server standing in for Resend or SendGrid: it records every request and
/// answers from a script (the last reply repeats).
public final class ProviderStandIn: Sendable {
    public struct Recorded: Sendable {
        public var method: String
        public var path: String
        public var headers: [String: String]
        public var body: String
    }

    public struct Reply: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: String
        /// How long the stand-in waits before answering (a provider that hangs).
        public var delay: Duration
        public init(status: Int, headers: [(String, String)] = [], body: String, delay: Duration = .zero) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delay = delay
        }
    }

    private let state: Box

    final class Box: Sendable {
        let value: Mutex<(recorded: [Recorded], script: [Reply])>
        init(_ replies: [Reply]) { value = Mutex(([], replies)) }
    }
    public let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    public init(replies: [Reply]) async throws {
        let state = Box(replies)
        let router = Router()
        router.on("**", method: .post) { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.rawName] = field.value }
            let reply = state.value.withLock { state -> Reply in
                state.recorded.append(
                    Recorded(
                        method: request.method.rawValue,
                        path: request.uri.path,
                        headers: headers,
                        body: String(buffer: body)
                    )
                )
                return state.script.count > 1 ? state.script.removeFirst() : state.script[0]
            }
            if reply.delay > .zero { try await Task.sleep(for: reply.delay) }
            var fields = HTTPFields()
            fields[.contentType] = "application/json"
            for (name, value) in reply.headers { fields[HTTPField.Name(name)!] = value }
            return Response(
                status: .init(code: reply.status),
                headers: fields,
                body: .init(byteBuffer: ByteBuffer(string: reply.body))
            )
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "provider-stand-in")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
            logger: logger
        )
        let group = ServiceGroup(services: [app], logger: logger)
        self.group = group
        self.state = state
        task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else { throw TestFailure("the stand-in did not start") }
        self.port = port
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public var requests: [Recorded] { state.value.withLock { $0.recorded } }

    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }

    /// A stand-in for the length of `body`, stopped (and waited for) when it returns or throws.
    public static func run(replies: [Reply], _ body: (ProviderStandIn) async throws -> Void) async throws {
        let standIn = try await ProviderStandIn(replies: replies)
        do {
            try await body(standIn)
        } catch {
            await standIn.stop()
            throw error
        }
        await standIn.stop()
    }
}
