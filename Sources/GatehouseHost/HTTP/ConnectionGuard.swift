import Foundation
import GatehouseCore
import NIOCore
import NIOHTTPTypes
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Limits that keep slow or idle clients from holding the server's connections:
/// `server.readTimeout` (a request's head and body, from its first byte), `server.maxConnections`
/// (more are closed as they arrive). The idle time between requests is Hummingbird's
/// `idleTimeout` (`server.idleTimeout`).
final class ConnectionLimits: Sendable {
    let readTimeout: TimeAmount
    let maxConnections: Int
    private let open = Atomic<Int>(0)

    init(readTimeout: Int, maxConnections: Int) {
        self.readTimeout = .seconds(Int64(readTimeout))
        self.maxConnections = maxConnections
    }

    /// Connections open now.
    var openConnections: Int { open.load(ordering: .relaxed) }

    /// Counts a new connection; false (and not counted) when the cap is reached.
    func admit() -> Bool {
        while true {
            let current = open.load(ordering: .relaxed)
            guard current < maxConnections else { return false }
            if open.compareExchange(expected: current, desired: current + 1, ordering: .relaxed).exchanged {
                return true
            }
        }
    }

    func release() { open.subtract(1, ordering: .relaxed) }

    /// The handlers for one connection: a watcher of raw bytes (first in the pipeline, where
    /// the first byte of a request can be seen) and a watcher of decoded request parts (where
    /// its end can).
    func handlers() -> [any RemovableChannelHandler] {
        [RequestPartWatcher(deadline: RequestDeadline(limits: self))]
    }

    /// The cap when `server.maxConnections` is not set: the open-file limit, raised to its hard
    /// limit first, less a reserve for the database, mail and logs.
    static func defaultMaxConnections() -> Int {
        #if canImport(Glibc)
            var limit = rlimit()
            guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 - 128 }
            if limit.rlim_cur < limit.rlim_max {
                var raised = limit
                raised.rlim_cur = limit.rlim_max
                if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
            }
            let files = Int(min(limit.rlim_cur, 1 << 20))
            return max(16, files - 128)
        #else
            return 1024 - 128
        #endif
    }
}

/// One connection's state, shared by its two watchers on the channel's event loop: whether a
/// request is being read, and the close that fires if it is not read in time.
final class RequestDeadline {
    let limits: ConnectionLimits
    var admitted = false
    private var reading = false
    private var timer: Scheduled<Void>?

    init(limits: ConnectionLimits) { self.limits = limits }

    /// A request's first bytes arrived: it has `readTimeout` to arrive whole.
    func begin(_ context: ChannelHandlerContext) {
        guard !reading else { return }
        reading = true
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: limits.readTimeout) { channel.close(promise: nil) }
    }

    /// The request's end arrived.
    func end() {
        reading = false
        timer?.cancel()
        timer = nil
    }

    /// Counts the connection, or closes it when the server is full.
    func open(_ context: ChannelHandlerContext) {
        guard !admitted else { return }
        if limits.admit() {
            admitted = true
        } else {
            context.close(promise: nil)
        }
    }

    func closed() {
        end()
        if admitted {
            admitted = false
            limits.release()
        }
    }
}

/// Sees the raw bytes: the first of a request starts its deadline.
final class RawBytesWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let deadline: RequestDeadline

    init(deadline: RequestDeadline) { self.deadline = deadline }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        deadline.begin(context)
        context.fireChannelRead(data)
    }
}

/// Sees decoded request parts: a request's end stops its deadline. It also counts the
/// connection against `maxConnections`.
final class RequestPartWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    let deadline: RequestDeadline

    init(deadline: RequestDeadline) { self.deadline = deadline }

    func handlerAdded(context: ChannelHandlerContext) {
        try? context.pipeline.syncOperations.addHandler(RawBytesWatcher(deadline: deadline), position: .first)
        if context.channel.isActive { deadline.open(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        deadline.open(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline.closed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline.closed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: deadline.begin(context)
        case .body: break
        case .end: deadline.end()
        }
        context.fireChannelRead(data)
    }
}
