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
package final class SessionTouches: Sendable {
    package struct Touch: Sendable, Equatable {
        package var lastSeenAt: Date
        package var expiresAt: Date

        package init(lastSeenAt: Date, expiresAt: Date) {
            self.lastSeenAt = lastSeenAt
            self.expiresAt = expiresAt
        }
    }

    private struct State {
        /// Touches not yet written, the latest of each session.
        var pending: [String: Touch] = [:]
        /// The batch the last write committed, still applied to reads: a read whose snapshot
        /// began before that commit would otherwise see neither it nor the stored values.
        var written: [String: Touch] = [:]
        var flushScheduled = false
    }

    private let state = Mutex(State())
    /// How long touches gather before they are written.
    package let delay: Duration

    package init(delay: Duration = .seconds(1)) {
        self.delay = delay
    }

    /// Notes a touch; true when none was pending, so the caller schedules a write.
    package func add(sessionId: String, _ touch: Touch) -> Bool {
        state.withLock { state in
            state.pending[sessionId] = touch
            guard !state.flushScheduled else { return false }
            state.flushScheduled = true
            return true
        }
    }

    /// `session` as its latest touch leaves it. The touch's expiry replaces the stored one (a
    /// lifetime shortened by a reload takes effect at the next use, as the touch computed it).
    /// A stored use later than the touch (another process's, on a shared database) wins; the
    /// touch's own value as stored (SQLite keeps milliseconds, rounded) does not.
    package func apply(_ session: Session) -> Session {
        guard let touch = state.withLock({ $0.pending[session.id] ?? $0.written[session.id] }),
            touch.lastSeenAt >= session.lastSeenAt.addingTimeInterval(-0.001)
        else {
            return session
        }
        var touched = session
        touched.lastSeenAt = touch.lastSeenAt
        touched.expiresAt = touch.expiresAt
        return touched
    }

    /// Forgets the touches of sessions that were deleted.
    package func forget(_ sessionIds: some Sequence<String>) {
        state.withLock { state in
            for id in sessionIds {
                state.pending[id] = nil
                state.written[id] = nil
            }
        }
    }

    /// Writes every pending touch in one transaction. A session deleted meanwhile is skipped
    /// (the UPDATE finds no row). A touch leaves `pending` only once it is committed, and stays
    /// applied until the next write; one that failed to be written stays for the next try.
    func write(to pool: DatabasePool) async throws {
        try await write { batch in
            try await pool.write { db in
                let statement = try db.cachedStatement(
                    sql: "UPDATE sessions SET lastSeenAt = ?, expiresAt = ? WHERE id = ?"
                )
                for (id, touch) in batch {
                    try statement.execute(arguments: [touch.lastSeenAt, touch.expiresAt, id])
                }
            }
        }
    }

    /// The same through `commit`, which writes a batch in one transaction of its store.
    package func write(_ commit: ([String: Touch]) async throws -> Void) async throws {
        let batch = state.withLock { state in
            state.flushScheduled = false
            return state.pending
        }
        guard !batch.isEmpty else { return }
        try await commit(batch)
        state.withLock { state in
            state.written = batch
            for (id, touch) in batch where state.pending[id] == touch { state.pending[id] = nil }
        }
    }
}
