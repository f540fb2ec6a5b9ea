import Foundation
import GatehouseCore
import Synchronization

/// The in-memory store, for one process (with SQLite; PostgreSQL brings a shared one,
/// `GatehouseStore.sharedRateLimits`). It holds at most `capacity` keys (windows and locks together): past
/// that, the least recently used go first, so a flood of distinct keys (made-up emails,
/// spoofed addresses) keeps its memory flat.
public final class InMemoryRateLimits: RateLimitStore {
    struct Entry {
        var count = 0
        var resetAt = Date.distantPast
        var lockedUntil: Date?
        /// When it was last used, in ticks of `State.clock`: the eviction order.
        var used: UInt64 = 0
    }

    struct State {
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0
        var sweptAt = Date.distantPast
    }

    public static let defaultCapacity = 100_000
    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = InMemoryRateLimits.defaultCapacity) {
        self.capacity = max(1, capacity)
    }

    /// Keys held now (for tests and metrics).
    public var keyCount: Int { state.withLock { $0.entries.count } }

    public func hit(_ key: String, window: TimeInterval, now: Date) async -> (count: Int, resetAt: Date) {
        update(key, now: now) { entry in
            if entry.resetAt <= now { (entry.count, entry.resetAt) = (0, now.addingTimeInterval(window)) }
            entry.count += 1
            return (entry.count, entry.resetAt)
        }
    }

    public func reserve(_ key: String, limit: Int, window: TimeInterval, now: Date) async -> Date? {
        update(key, now: now) { entry in
            if let until = entry.lockedUntil, until > now { return until }
            if entry.resetAt <= now { (entry.count, entry.resetAt) = (0, now.addingTimeInterval(window)) }
            guard entry.count < limit else { return entry.resetAt }
            entry.count += 1
            return nil
        }
    }

    public func release(_ key: String, now: Date) async {
        state.withLock { state in
            guard var entry = state.entries[key], entry.resetAt > now, entry.count > 0 else { return }
            entry.count -= 1
            state.entries[key] = entry
        }
    }

    public func count(_ key: String, now: Date) async -> Int {
        state.withLock { state in state.entries[key].map { $0.resetAt > now ? $0.count : 0 } ?? 0 }
    }

    @discardableResult public func lock(_ key: String, until: Date, now: Date) async -> Bool {
        update(key, now: now) { entry in
            if let current = entry.lockedUntil, current > now { return false }
            entry.lockedUntil = until
            return true
        }
    }

    public func lockedUntil(_ key: String, now: Date) async -> Date? {
        state.withLock { state in state.entries[key]?.lockedUntil.flatMap { $0 > now ? $0 : nil } }
    }

    public func reset(_ key: String, unlessLockedAt now: Date) async {
        state.withLock { state in
            guard (state.entries[key]?.lockedUntil ?? .distantPast) <= now else { return }
            state.entries[key] = nil
        }
    }

    /// Runs `body` on `key`'s entry (a new one if needed), marks it used, and keeps the store
    /// within its bounds.
    private func update<T>(_ key: String, now: Date, _ body: (inout Entry) -> T) -> T {
        state.withLock { state in
            sweep(&state, now: now)
            state.clock += 1
            var entry = state.entries[key] ?? Entry()
            let result = body(&entry)
            entry.used = state.clock
            state.entries[key] = entry
            if state.entries.count > capacity { evict(&state, now: now) }
            return result
        }
    }

    /// Drops the least recently used tenth of the keys (at least the surplus), so eviction's
    /// sort is paid once per many insertions. Locks in force go last: a flood of made-up keys
    /// must not lift a lockout. Only when locks alone fill the store are the oldest dropped.
    private func evict(_ state: inout State, now: Date) {
        let drop = max(state.entries.count - capacity, capacity / 10)
        func isLocked(_ entry: Entry) -> Bool { (entry.lockedUntil ?? .distantPast) > now }
        let open = state.entries.values.filter { !isLocked($0) }.map(\.used).sorted()
        if open.count >= drop {
            let cutoff = open[drop - 1]
            state.entries = state.entries.filter { isLocked($0.value) || $0.value.used > cutoff }
        } else {
            let cutoff = state.entries.values.map(\.used).sorted()[drop - 1]
            state.entries = state.entries.filter { $0.value.used > cutoff }
        }
    }

    /// Drops ended windows and locks, at most once a minute.
    private func sweep(_ state: inout State, now: Date) {
        guard now.timeIntervalSince(state.sweptAt) > 60 else { return }
        state.entries = state.entries.filter { $0.value.resetAt > now || ($0.value.lockedUntil ?? .distantPast) > now }
        state.sweptAt = now
    }
}
