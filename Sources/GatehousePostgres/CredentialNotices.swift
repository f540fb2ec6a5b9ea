import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import Synchronization

/// How processes on one database keep their credential caches true. A write that changes a
/// user (their sessions, keys, role, suspension, password...) sends a notice on `channel` in
/// its transaction, so it goes out exactly when the write commits. Every process listens on one
/// dedicated connection; on a notice it drops that user's cached entries, then acknowledges on
/// the same channel.
///
/// The guarantee: the writing process answers only once every process that was listening on
/// the database when the write committed has dropped the entries and said so (or after
/// `ackTimeout`, if one does not answer: a process that hangs cannot hold every write up). So a
/// session revoked through one process fails on every other on the first request that arrives
/// there after the revoking request was answered. While a process is not listening (its
/// connection dropped, or not up yet) it caches nothing and reads every credential from the
/// database, so a notice it missed cannot leave a stale entry behind.
///
/// A process that is listening but slow to handle notices (its threads starved, its listening
/// connection cut without a word) must not trust its cache past the moment a writer gives up on
/// it either. So it sends itself a beat on the channel (every `beatInterval`), and trusts its
/// cache only until a little less than `ackTimeout` after the sending of the last beat it has
/// handled. Notices arrive in the order their transactions committed and are handled one by
/// one, so every notice committed before that beat has been handled; one committed after it is
/// waited for, by its writer, until later than this trust lasts. (So every process on a
/// database must wait as long for acknowledgements as the others trust their caches: the 2 s
/// is fixed, not a setting.) What this leaves: a listening server process that ends while its
/// client has not yet noticed (a failover the network hides) is no longer waited for, and its
/// process trusts its cache for what remains of the 1.9 s since its last handled beat.
final class CredentialNotices: Sendable {
    static let channel = "gatehouse_credentials"
    /// The application name of the listening connections, by which a writer counts them.
    static let applicationName = "gatehouse-listen"
    /// The payload's user id that stands for every user.
    static let everyone = "*"
    /// The nonce of a notice nobody waits for (the sweep's).
    static let unawaited = "-"
    /// How long the listening connection's beat (sent every `beatInterval`) may take to be
    /// answered: a connection the network dropped without a word is given up within this and a
    /// beat's interval.
    static let heartbeat = Duration.seconds(2)

    /// A write waiting for the acknowledgements of its notice: from each listening connection
    /// (by its server process id) counted when the write committed.
    struct Waiter {
        var needed: Set<Int32>?
        var heard: Set<Int32> = []
        /// Resumed with true when every one acknowledged, false when the wait was given up.
        var continuation: CheckedContinuation<Bool, Never>?
    }

    struct State {
        var listening = false
        /// When the listening connection last proved alive (a heartbeat answered).
        var aliveAt = ContinuousClock.now
        /// Until when the cache may be trusted (see the type's description).
        var trustedUntil = ContinuousClock.now
        /// Beats sent and not yet handled, by nonce: when each was sent.
        var beats: [String: ContinuousClock.Instant] = [:]
        /// Writes expecting acknowledgements, by nonce.
        var waiting: [String: Waiter] = [:]
    }

    private let state = Mutex(State())
    /// The listening connection's settings (also used for a one-off check at start).
    let configuration: PostgresConnection.Configuration
    private let logger: Logger
    /// The first wait before listening again (see `run`).
    private let retry: Duration
    /// How long a write waits for the acknowledgements (2 s in service).
    let ackTimeout: Duration
    /// Told the user id of every notice (nil: every user's), and when listening stops.
    private let invalidate: @Sendable (String?) async -> Void

    init(
        configuration: PostgresConnection.Configuration,
        retry: Duration = .milliseconds(500),
        ackTimeout: Duration = .seconds(2),
        logger: Logger,
        invalidate: @escaping @Sendable (String?) async -> Void
    ) {
        self.configuration = configuration
        self.retry = retry
        self.ackTimeout = ackTimeout
        self.logger = logger
        self.invalidate = invalidate
    }

    /// Whether acknowledgements can be heard: listening, and heard from the server lately (a
    /// connection that went silent counts as lost before it is noticed).
    var listening: Bool {
        state.withLock { $0.listening && ContinuousClock.now - $0.aliveAt < Self.heartbeat * 3 }
    }

    /// Whether a cached credential may be used, and one read now kept: listening, and every
    /// notice a writer may have stopped waiting for has been handled (see the type).
    var trusted: Bool {
        state.withLock { $0.listening && ContinuousClock.now < $0.trustedUntil }
    }

    /// How long the cache is trusted after a beat is sent: `ackTimeout`, less a margin for the
    /// rates of two machines' clocks and for a writer whose wait starts just before its commit.
    var trustSpan: Duration { ackTimeout - max(.milliseconds(50), ackTimeout / 20) }

    /// How often a beat is sent: often enough that the trust lasts from one beat to the next
    /// while they are handled promptly, and that `listening` sees a heartbeat in time.
    var beatInterval: Duration { max(.milliseconds(10), min(ackTimeout / 2, Self.heartbeat)) }

    /// The waits of the writes that started before now end later than this: the cache is no
    /// longer trusted (the listening connection is going).
    private func distrust() {
        state.withLock { state in
            state.trustedUntil = .now
            // A beat still buffered (handled after this) must not bring the trust back.
            state.beats.removeAll()
        }
    }

    /// A notice for a change of `userId` (nil: every user), and the nonce its acknowledgements
    /// carry; `expect` it before the write commits.
    static func payload(userId: String?, nonce: String = UUID().uuidString) -> (payload: String, nonce: String) {
        ("\(nonce) \(userId ?? everyone)", nonce)
    }

    /// Notes that acknowledgements of `nonce` will come (so none is missed by arriving early).
    func expect(_ nonce: String) {
        state.withLock { $0.waiting[nonce] = Waiter() }
    }

    /// Waits until every listening connection in `listeners` acknowledged `nonce`. Whenever
    /// that cannot be known (the listeners could not be read, this process is not listening,
    /// its connection changed during the write or the wait, or one listener does not answer),
    /// it waits out `ackTimeout` from its start: time for the others to have heard the notice.
    func awaitAcknowledgements(_ nonce: String, listeners: Set<Int32>?, since start: ContinuousClock.Instant) async {
        var acknowledged = false
        if let listeners, listening, state.withLock({ $0.waiting[nonce] != nil }) {
            acknowledged = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await withCheckedContinuation { continuation in
                        let answer = self.state.withLock { state -> Bool? in
                            guard state.listening, var waiter = state.waiting[nonce] else {
                                state.waiting[nonce] = nil
                                return false
                            }
                            if listeners.isSubset(of: waiter.heard) {
                                state.waiting[nonce] = nil
                                return true
                            }
                            waiter.needed = listeners
                            waiter.continuation = continuation
                            state.waiting[nonce] = waiter
                            return nil
                        }
                        if let answer { continuation.resume(returning: answer) }
                    }
                }
                group.addTask {
                    try? await Task.sleep(until: start + self.ackTimeout)
                    self.finish(nonce)
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                self.finish(nonce)
                return first
            }
        }
        finish(nonce)
        if !acknowledged { try? await Task.sleep(until: start + self.ackTimeout) }
    }

    /// Gives up on `nonce` (the write failed, or its wait ended).
    func finish(_ nonce: String) {
        state.withLock { $0.waiting.removeValue(forKey: nonce) }?.continuation?.resume(returning: false)
    }

    private func heard(_ payload: String, on connection: PostgresConnection) async {
        let parts = payload.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return await invalidate(nil) }
        if parts[0] == "beat" {
            // "beat NONCE": every notice committed before it has been handled. (Other processes'
            // beats are not in `beats`.)
            let span = trustSpan
            state.withLock { state in
                guard let sent = state.beats.removeValue(forKey: parts[1]) else { return }
                state.trustedUntil = max(state.trustedUntil, sent + span)
            }
            return
        }
        if parts[0] == "ack" {
            // "ack NONCE PID": the listening connection PID dropped the entries of NONCE's user.
            let ack = parts[1].split(separator: " ")
            guard ack.count == 2, let pid = Int32(ack[1]) else { return }
            let nonce = String(ack[0])
            let done = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard var waiter = state.waiting[nonce] else { return nil }
                waiter.heard.insert(pid)
                if let needed = waiter.needed, needed.isSubset(of: waiter.heard) {
                    state.waiting[nonce] = nil
                    return waiter.continuation
                }
                state.waiting[nonce] = waiter
                return nil
            }
            done?.resume(returning: true)
            return
        }
        await invalidate(parts[1] == Self.everyone ? nil : parts[1])
        guard parts[0] != Self.unawaited else { return }
        // Dropped, so acknowledged; the next notice is not held up by the acknowledgement's
        // round trip (a burst of writes would otherwise outrun the handling).
        let (logger, nonce) = (self.logger, parts[0])
        Task {
            do {
                try await connection.query(Self.notify("ack " + nonce + " ", withBackendPid: true), logger: logger)
            } catch {
                logger.warning("credential notices: an acknowledgement failed (\(String(reflecting: error)))")
            }
        }
    }

    /// A notice on the channel, its commit not waiting for the disk (a notice is worth nothing
    /// after a crash, and the lock every NOTIFY's commit takes is held the shorter); with
    /// `withBackendPid`, the sending connection's server pid is appended to the payload.
    static func notify(_ payload: String, withBackendPid: Bool = false) -> PostgresQuery {
        withBackendPid
            ? "SELECT set_config('synchronous_commit', 'off', true), pg_notify(\(channel), \(payload) || pg_backend_pid()::text)"
            : "SELECT set_config('synchronous_commit', 'off', true), pg_notify(\(channel), \(payload))"
    }

    /// Listening from `since` (before the cache was emptied), or no longer.
    private func setListening(_ listening: Bool, since: ContinuousClock.Instant = .now) {
        let span = trustSpan
        let waiting = state.withLock { state in
            state.listening = listening
            state.beats.removeAll()
            // Everything cached was dropped as listening began; whatever is read from here on
            // is newer than every notice that could be missed before it.
            state.trustedUntil = listening ? since + span : .now
            defer { if !listening { state.waiting.removeAll() } }
            return listening ? [:] : state.waiting
        }
        for waiter in waiting.values { waiter.continuation?.resume(returning: false) }
    }

    /// Listens until cancelled, connecting again (after `retry`, then up to 10 s between tries)
    /// whenever the connection drops. It sends a beat every `beatInterval`, so a connection the
    /// network dropped silently is noticed, and the cache's trust kept up.
    func run() async {
        var delay = retry
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: configuration,
                    id: 0,
                    logger: logger
                )
                delay = retry
                do {
                    try await listen(on: connection)
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if !Task.isCancelled {
                    logger.warning("credential notices: not listening (\(String(reflecting: error)))")
                }
            }
            // Not listening: nothing may stay cached, nothing new is cached.
            setListening(false)
            await invalidate(nil)
            try? await Task.sleep(for: delay)
            delay = max(retry, min(delay * 2, .seconds(10)))
        }
    }

    /// One beat (a notice to this process itself), the statement answered within `heartbeat`,
    /// or the connection is given up. The beat is handled in its turn among the notices.
    private func proveAlive(_ connection: PostgresConnection) async throws {
        let nonce = UUID().uuidString
        state.withLock { state in
            let now = ContinuousClock.now
            // A beat not handled within `ackTimeout` could extend the trust no more.
            state.beats = state.beats.filter { now - $0.value < ackTimeout }
            state.beats[nonce] = now
        }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await connection.query(Self.notify("beat " + nonce), logger: self.logger)
                return true
            }
            group.addTask {
                try await Task.sleep(for: Self.heartbeat)
                // A statement waits on the connection whatever its task does: closing it is
                // what ends the wait (and fails anything else still running on it).
                try? await connection.close()
                return false
            }
            let answered = try await group.next() ?? false
            group.cancelAll()
            guard answered else { throw HeartbeatLate() }
            state.withLock { $0.aliveAt = .now }
        }
    }

    struct ConnectionClosed: Error, CustomStringConvertible {
        var description: String { "the listening connection closed" }
    }

    struct HeartbeatLate: Error, CustomStringConvertible {
        var description: String { "the listening connection did not answer a heartbeat in time" }
    }

    private func listen(on connection: PostgresConnection) async throws {
        try await connection.listen(on: Self.channel) { notices in
            // Listening from here: what was cached before may have missed a notice.
            let began = ContinuousClock.now
            await invalidate(nil)
            state.withLock { $0.aliveAt = .now }
            setListening(true, since: began)
            logger.info("credential notices: listening")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await notice in notices { await self.heard(notice.payload, on: connection) }
                    throw CancellationError()
                }
                group.addTask {
                    while true {
                        try await self.proveAlive(connection)
                        try await Task.sleep(for: self.beatInterval)
                    }
                }
                group.addTask {
                    // Closed by the server or the network: known at once, however far behind
                    // the handling of the notices is.
                    try await connection.closeFuture.get()
                    throw ConnectionClosed()
                }
                // The connection is going the moment one task ends: distrusted at once, and
                // closed, which ends a statement still waiting on it (a beat sent into a
                // silent network, whose own deadline was cancelled with it).
                let ended: any Error
                do {
                    try await group.next()
                    ended = CancellationError()
                } catch {
                    ended = error
                }
                distrust()
                try? await connection.close()
                throw ended
            }
        }
    }
}
