import Foundation
import GatehouseCore
import Synchronization

/// Sessions resolved from their token hash, kept in memory so that an authenticated request
/// costs no database read. Every write that can change a user or a session empties it (see
/// `SQLiteStore.accountWrite`), so a revoked session or a suspended user stops working at once.
/// This holds because one Gatehouse process owns the database.
final class SessionCache: Sendable {
    private let state = Mutex<(generation: UInt64, entries: [String: (Session, User)])>((0, [:]))
    static let capacity = 10_000

    var generation: UInt64 { state.withLock { $0.generation } }

    func lookup(_ tokenHash: String) -> (Session, User)? {
        state.withLock { $0.entries[tokenHash] }
    }

    /// Keeps a value read while the cache was at `generation`; a write since then makes it
    /// possibly stale, so it is dropped.
    func store(_ tokenHash: String, _ value: (Session, User), ifGeneration generation: UInt64) {
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.entries.count >= Self.capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[tokenHash] = value
        }
    }

    func invalidate() {
        state.withLock { state in
            state.generation &+= 1
            state.entries.removeAll(keepingCapacity: true)
        }
    }
}
