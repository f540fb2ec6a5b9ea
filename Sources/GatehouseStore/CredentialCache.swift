import Foundation
import GatehouseCore
import Synchronization

/// Credentials (sessions, API keys) resolved from their hash, kept in memory so that an
/// authenticated request costs no database read. A write that can change a user or their
/// credentials drops that user's entries (see `SQLiteStore.accountWrite`), so a revoked session,
/// a deleted key or a suspended user stops working at once, and other users' entries stay. A
/// last-use touch changes its entry in place (`modify`) and drops nothing, so ordinary traffic
/// never empties the cache. This holds because one Gatehouse process owns the database.
package final class CredentialCache<Value: Sendable>: Sendable {
    struct State {
        /// Counts invalidations; a reader notes it before reading the database.
        var counter: UInt64 = 0
        /// When everything was last dropped.
        var flushedAt: UInt64 = 0
        /// When each user's entries were last dropped.
        var droppedAt: [String: UInt64] = [:]
        var entries: [String: (userId: String, value: Value)] = [:]
        var hashesByUser: [String: Set<String>] = [:]

        /// Notes that `userId` changed now, so that a value of theirs read before is not kept.
        mutating func markChanged(_ userId: String) {
            counter &+= 1
            // The record of who changed when is bounded like the entries: when full, every
            // read under way is refused instead (the entries kept are current and stay).
            if droppedAt.count >= CredentialCache.capacity {
                flushedAt = counter
                droppedAt.removeAll(keepingCapacity: true)
            }
            droppedAt[userId] = counter
        }

        mutating func remove(_ tokenHash: String, of userId: String) {
            entries[tokenHash] = nil
            hashesByUser[userId]?.remove(tokenHash)
            if hashesByUser[userId]?.isEmpty == true { hashesByUser[userId] = nil }
        }

        mutating func flush() {
            counter &+= 1
            flushedAt = counter
            droppedAt.removeAll(keepingCapacity: true)
            entries.removeAll(keepingCapacity: true)
            hashesByUser.removeAll(keepingCapacity: true)
        }
    }

    private let state = Mutex(State())

    package init() {}
    static var capacity: Int { 10_000 }
    private let found = Atomic<Int>(0)
    private let missed = Atomic<Int>(0)

    /// Lookups answered from memory, and not, so far.
    package var lookups: (hits: Int, misses: Int) { (found.load(ordering: .relaxed), missed.load(ordering: .relaxed)) }

    /// Note this before reading what `store` will keep.
    package var generation: UInt64 { state.withLock { $0.counter } }

    package func lookup(_ tokenHash: String) -> Value? {
        let value = state.withLock { $0.entries[tokenHash]?.value }
        if value == nil {
            missed.add(1, ordering: .relaxed)
        } else {
            found.add(1, ordering: .relaxed)
        }
        return value
    }

    /// Keeps a value of `userId` read while the cache was at `generation`, unless that user's
    /// entries (or all) were dropped since: the value may be stale then.
    package func store(_ tokenHash: String, _ value: Value, userId: String, ifGeneration generation: UInt64) {
        state.withLock { state in
            guard state.flushedAt <= generation, (state.droppedAt[userId] ?? 0) <= generation else { return }
            // Full: one entry makes room (whichever the table gives first), not all of them.
            if state.entries.count >= Self.capacity, let evicted = state.entries.first {
                state.remove(evicted.key, of: evicted.value.userId)
            }
            state.entries[tokenHash] = (userId, value)
            state.hashesByUser[userId, default: []].insert(tokenHash)
        }
    }

    /// Drops the entries of `userId`; nil drops every entry.
    package func invalidate(userId: String?) {
        state.withLock { state in
            guard let userId else { return state.flush() }
            state.markChanged(userId)
            for hash in state.hashesByUser.removeValue(forKey: userId) ?? [] { state.entries[hash] = nil }
        }
    }

    /// Changes the entries of `userId` in place (a last-use touch), keeping them. A value of
    /// theirs read from the database before this, and not yet kept, is not kept: it would
    /// undo the change.
    package func modify(userId: String, _ change: (inout Value) -> Void) {
        state.withLock { state in
            state.markChanged(userId)
            for hash in state.hashesByUser[userId] ?? [] { change(&state.entries[hash]!.value) }
        }
    }
}
