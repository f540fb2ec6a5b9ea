import Foundation
import GatehouseCore
import Synchronization

/// Credentials (sessions, API keys) resolved from their hash, kept in memory so that an
/// authenticated request costs no database read. Every write that can change a user or a
/// credential empties it (see `SQLiteStore.accountWrite`), so a revoked session, a deleted key or
/// a suspended user stops working at once. This holds because one Gatehouse process owns the
/// database.
final class CredentialCache<Value: Sendable>: Sendable {
    private let state = Mutex<(generation: UInt64, entries: [String: Value])>((0, [:]))
    static var capacity: Int { 10_000 }

    var generation: UInt64 { state.withLock { $0.generation } }

    func lookup(_ tokenHash: String) -> Value? {
        state.withLock { $0.entries[tokenHash] }
    }

    /// Keeps a value read while the cache was at `generation`; a write since then makes it
    /// possibly stale, so it is dropped.
    func store(_ tokenHash: String, _ value: Value, ifGeneration generation: UInt64) {
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
