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
final class CredentialNotices: Sendable {
    static let channel = "gatehouse_credentials"
    /// The application name of the listening connections, by which a writer counts them.
    static let applicationName = "gatehouse-listen"
    /// The payload's user id that stands for every user.
    static let everyone = "*"
    /// The nonce of a notice nobody waits for (the sweep's).
    static let unawaited = "-"
    /// How long a write waits for the acknowledgements.
    static let ackTimeout = Duration.seconds(2)
    /// How often the listening connection proves it is alive, and how long the proof may take:
    /// a connection the network dropped without a word is given up within twice this.
    static let heartbeat = Duration.seconds(2)

    struct Waiter {
        var needed: Int?
        var heard = 0
        var continuation: CheckedContinuation<Void, Never>?
    }

    struct State {
        var listening = false
        /// When the listening connection last proved alive (a heartbeat answered).
        var aliveAt = ContinuousClock.now
        /// Writes expecting acknowledgements, by nonce.
        var waiting: [String: Waiter] = [:]
    }

    private let state = Mutex(State())
    /// The listening connection's settings (also used for a one-off check at start).
    let configuration: PostgresConnection.Configuration
    private let logger: Logger
    /// Told the user id of every notice (nil: every user's), and when listening stops.
    private let invalidate: @Sendable (String?) -> Void

    init(
        configuration: PostgresConnection.Configuration,
        logger: Logger,
        invalidate: @escaping @Sendable (String?) -> Void
    ) {
        self.configuration = configuration
        self.logger = logger
        self.invalidate = invalidate
    }

    /// Whether a credential read now may be kept in the cache: listening, and heard from the
    /// server lately (a connection that went silent counts as lost before it is noticed).
    var listening: Bool {
        state.withLock { $0.listening && ContinuousClock.now - $0.aliveAt < Self.heartbeat * 3 }
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

    /// Waits until `listeners` acknowledgements of `nonce` came, or `ackTimeout` passed. When
    /// this process is not listening, it cannot hear them: it waits the whole `ackTimeout`,
    /// time for the others to have heard the notice.
    func awaitAcknowledgements(_ nonce: String, listeners: Int) async {
        if !listening {
            finish(nonce)
            try? await Task.sleep(for: Self.ackTimeout)
            return
        }
        // The listening connection changed since the write began (its waiter was dropped):
        // whether the others heard cannot be known, so the whole timeout is waited.
        if state.withLock({ $0.waiting[nonce] == nil }) {
            try? await Task.sleep(for: Self.ackTimeout)
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLock { state -> Bool in
                        guard state.listening, var waiter = state.waiting[nonce], waiter.heard < listeners else {
                            state.waiting[nonce] = nil
                            return true
                        }
                        waiter.needed = listeners
                        waiter.continuation = continuation
                        state.waiting[nonce] = waiter
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: Self.ackTimeout)
                self.finish(nonce)
            }
            await group.next()
            group.cancelAll()
            self.finish(nonce)
        }
    }

    /// Gives up on `nonce` (the write failed, or its wait ended).
    func finish(_ nonce: String) {
        state.withLock { $0.waiting.removeValue(forKey: nonce) }?.continuation?.resume()
    }

    private func heard(_ payload: String, on connection: PostgresConnection) async {
        let parts = payload.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return invalidate(nil) }
        if parts[0] == "ack" {
            let done = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard var waiter = state.waiting[parts[1]] else { return nil }
                waiter.heard += 1
                if let needed = waiter.needed, waiter.heard >= needed {
                    state.waiting[parts[1]] = nil
                    return waiter.continuation
                }
                state.waiting[parts[1]] = waiter
                return nil
            }
            done?.resume()
            return
        }
        invalidate(parts[1] == Self.everyone ? nil : parts[1])
        guard parts[0] != Self.unawaited else { return }
        do {
            try await connection.query("SELECT pg_notify(\(Self.channel), \("ack " + parts[0]))", logger: logger)
        } catch {
            logger.warning("credential notices: an acknowledgement failed (\(String(reflecting: error)))")
        }
    }

    private func setListening(_ listening: Bool) {
        let waiting = state.withLock { state in
            state.listening = listening
            defer { if !listening { state.waiting.removeAll() } }
            return listening ? [:] : state.waiting
        }
        for waiter in waiting.values { waiter.continuation?.resume() }
    }

    /// Listens until cancelled, connecting again (after 0.5 s, then up to 10 s between tries)
    /// whenever the connection drops. Idle, it sends one `SELECT 1` a minute, so a connection
    /// the network dropped silently is noticed.
    func run() async {
        var delay = Duration.milliseconds(500)
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: configuration,
                    id: 0,
                    logger: logger
                )
                delay = .milliseconds(500)
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
            invalidate(nil)
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(10))
        }
    }

    /// One `SELECT 1`, answered within `heartbeat`, or the connection is given up.
    private func proveAlive(_ connection: PostgresConnection) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await connection.query("SELECT 1", logger: self.logger)
                return true
            }
            group.addTask {
                try await Task.sleep(for: Self.heartbeat)
                return false
            }
            let answered = try await group.next() ?? false
            group.cancelAll()
            guard answered else { throw HeartbeatLate() }
            state.withLock { $0.aliveAt = .now }
        }
    }

    struct HeartbeatLate: Error, CustomStringConvertible {
        var description: String { "the listening connection did not answer a heartbeat in time" }
    }

    private func listen(on connection: PostgresConnection) async throws {
        try await connection.listen(on: Self.channel) { notices in
            // Listening from here: what was cached before may have missed a notice.
            invalidate(nil)
            state.withLock { $0.aliveAt = .now }
            setListening(true)
            logger.info("credential notices: listening")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await notice in notices { await self.heard(notice.payload, on: connection) }
                    throw CancellationError()
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: Self.heartbeat)
                        try await self.proveAlive(connection)
                    }
                }
                try await group.next()
            }
        }
    }
}
