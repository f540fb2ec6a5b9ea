import Foundation
import GRDB
import GatehouseCore
import Synchronization

/// Last-use touches of sessions (a new `lastSeenAt`, and the sliding `expiresAt`), gathered in
/// memory and written together: at most one transaction a second however many sessions come
/// due, instead of one synced write per session in its request's path. What is read from the
/// store sees them at once (`apply`); the sweep writes them before it deletes what expired, and
/// closing the store writes them before the last checkpoint. A crash loses at most the last
/// second's touches: a session then looks used a minute or so earlier than it was, nothing a
/// client was told is lost.
final class SessionTouches: Sendable {
    struct Touch: Sendable, Equatable {
        var lastSeenAt: Date
        var expiresAt: Date
    }

    private struct State {
        var pending: [String: Touch] = [:]
        var flushScheduled = false
    }

    private let state = Mutex(State())
    /// How long touches gather before they are written.
    let delay: Duration

    init(delay: Duration = .seconds(1)) {
        self.delay = delay
    }

    /// Notes a touch; true when none was pending, so the caller schedules a write.
    func add(sessionId: String, _ touch: Touch) -> Bool {
        state.withLock { state in
            state.pending[sessionId] = touch
            guard !state.flushScheduled else { return false }
            state.flushScheduled = true
            return true
        }
    }

    /// `session` as its pending touch leaves it.
    func apply(_ session: Session) -> Session {
        guard let touch = state.withLock({ $0.pending[session.id] }) else { return session }
        var touched = session
        touched.lastSeenAt = max(session.lastSeenAt, touch.lastSeenAt)
        touched.expiresAt = max(session.expiresAt, touch.expiresAt)
        return touched
    }

    /// Writes every pending touch in one transaction. A session deleted meanwhile is skipped
    /// (the UPDATE finds no row). A touch leaves the memory only once it is committed, so a
    /// read never misses it; one that failed to be written stays for the next try.
    func write(to pool: DatabasePool) async throws {
        let batch = state.withLock { state in
            state.flushScheduled = false
            return state.pending
        }
        guard !batch.isEmpty else { return }
        try await pool.write { db in
            let statement = try db.cachedStatement(
                sql: "UPDATE sessions SET lastSeenAt = MAX(lastSeenAt, ?), expiresAt = MAX(expiresAt, ?) WHERE id = ?"
            )
            for (id, touch) in batch {
                try statement.execute(arguments: [touch.lastSeenAt, touch.expiresAt, id])
            }
        }
        state.withLock { state in
            for (id, touch) in batch where state.pending[id] == touch { state.pending[id] = nil }
        }
    }
}
