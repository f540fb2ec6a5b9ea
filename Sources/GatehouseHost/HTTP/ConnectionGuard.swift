import Foundation
import GatehouseCore
import HTTPTypes
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
///
/// At shutdown (Hummingbird's quiesce event) a request still arriving gets `quiesceGrace` more
/// to arrive whole, and every response then says `Connection: close`; Hummingbird closes each
/// connection once its last response is written.
final class ConnectionLimits: Sendable {
    let readTimeout: TimeAmount
    let maxConnections: Int
    let quiesceGrace: TimeAmount = .seconds(1)
    private let open = Atomic<Int>(0)
    private let inFlight = Atomic<Int>(0)

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

    /// Requests whose head has arrived and whose response has not been written whole.
    var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }

    func requestsStarted(_ count: Int) { inFlight.add(count, ordering: .relaxed) }
    func requestsEnded(_ count: Int) { inFlight.subtract(count, ordering: .relaxed) }

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
/// request is being read, the close that fires if it is not read in time, the requests not yet
/// answered, and whether the server is shutting down.
///
/// The timer cuts no response off: when it fires while a request that has arrived whole is being
/// answered, the connection is closed once that response is written (and the response says
/// so). A request whose body is still missing is not waited for.
final class RequestDeadline {
    let limits: ConnectionLimits
    var admitted = false
    private(set) var quiescing = false
    /// The time ran out while a response was owed: close after it.
    private(set) var closeAfterResponse = false
    private var reading = false
    /// A request's head has arrived and its end has not.
    private var bodyPending = false
    private var unanswered = 0
    /// When the time runs out (nil: no deadline now).
    private var deadline: NIODeadline?
    /// The one timer of the connection, and when it fires. A new deadline later than the
    /// timer leaves it be (it moves itself on when it fires early), so a keep-alive connection
    /// schedules about one timer per `readTimeout`, not one per request.
    private var timer: Scheduled<Void>?
    private var timerAt: NIODeadline?

    init(limits: ConnectionLimits) { self.limits = limits }

    /// A request's first bytes arrived: it has `readTimeout` to arrive whole.
    func begin(_ context: ChannelHandlerContext) {
        guard !reading else { return }
        reading = true
        schedule(context, in: quiescing ? limits.quiesceGrace : limits.readTimeout)
    }

    private func schedule(_ context: ChannelHandlerContext, in delay: TimeAmount) {
        let due = NIODeadline.now() + delay
        deadline = due
        if let timerAt, timerAt <= due, timer != nil { return }
        arm(context.eventLoop, context.channel, at: due)
    }

    private func arm(_ eventLoop: any EventLoop, _ channel: any Channel, at due: NIODeadline) {
        timer?.cancel()
        let this = NIOLoopBound(self, eventLoop: eventLoop)
        timerAt = due
        timer = eventLoop.scheduleTask(deadline: due) { this.value.fired(eventLoop, channel) }
    }

    private func fired(_ eventLoop: any EventLoop, _ channel: any Channel) {
        timer = nil
        timerAt = nil
        guard let deadline else { return }
        if deadline > .now() { return arm(eventLoop, channel, at: deadline) }
        expired(channel)
    }

    private func expired(_ channel: any Channel) {
        deadline = nil
        if unanswered == 0 || bodyPending {
            channel.close(promise: nil)
        } else {
            closeAfterResponse = true
        }
    }

    /// The server is shutting down. A connection answering a request is closed after its
    /// response (true: pass the event on to Hummingbird, which does that). One between requests
    /// or still receiving one has `quiesceGrace`: a request that arrives whole within it is
    /// answered (then closed), else the connection is closed (false: hold the event until a
    /// request's head arrives).
    func quiesce(_ context: ChannelHandlerContext) -> Bool {
        quiescing = true
        if reading {
            if limits.quiesceGrace < limits.readTimeout { schedule(context, in: limits.quiesceGrace) }
        } else if unanswered == 0 {
            schedule(context, in: limits.quiesceGrace)
        }
        return unanswered > 0
    }

    /// A request's head arrived.
    func requestStarted() {
        bodyPending = true
        unanswered += 1
        limits.requestsStarted(1)
    }

    /// A response's end is being written; true when the connection should close after it.
    func responseEnded() -> Bool {
        guard unanswered > 0 else { return false }
        unanswered -= 1
        limits.requestsEnded(1)
        return unanswered == 0 && closeAfterResponse
    }

    /// The request's end arrived. While shutting down, a connection with nothing left to answer
    /// (its response went out before its body was read) gets the grace to close in.
    func end(_ context: ChannelHandlerContext) {
        reading = false
        bodyPending = false
        cancelTimer()
        if quiescing && unanswered == 0 { schedule(context, in: limits.quiesceGrace) }
    }

    /// No deadline now; the timer, if any, finds none when it fires.
    private func cancelTimer() {
        deadline = nil
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
        reading = false
        bodyPending = false
        deadline = nil
        timer?.cancel()
        timer = nil
        timerAt = nil
        if unanswered > 0 {
            limits.requestsEnded(unanswered)
            unanswered = 0
        }
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

/// Sees decoded request parts and the response parts written back: a request's end stops its
/// deadline; heads and ends count the requests in flight. It also counts the connection against
/// `maxConnections`, and at shutdown marks the responses `Connection: close`.
final class RequestPartWatcher: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart
    let deadline: RequestDeadline
    /// Shutdown began between requests: Hummingbird hears of it with the next request's head.
    private var heldQuiesce = false

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
        case .head:
            deadline.begin(context)
            deadline.requestStarted()
            context.fireChannelRead(data)
            if heldQuiesce {
                heldQuiesce = false
                context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            }
            return
        case .body: break
        case .end: deadline.end(context)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response) where deadline.quiescing || deadline.closeAfterResponse:
            response.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end:
            if deadline.responseEnded() {
                context.writeAndFlush(data, promise: promise)
                context.close(promise: nil)
            } else {
                context.write(data, promise: promise)
            }
        default:
            context.write(data, promise: promise)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A connection not active yet is passed on at once: Hummingbird closes it then. Held
        // open, it could become active after the server stopped accepting, and NIO drops the
        // writer of a connection nobody took unfinished (a trap).
        if event is ChannelShouldQuiesceEvent, context.channel.isActive, !deadline.quiesce(context) {
            heldQuiesce = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
