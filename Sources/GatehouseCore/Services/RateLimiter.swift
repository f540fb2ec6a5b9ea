import Foundation
import Synchronization

/// Counters and locks for rate limits. In memory (one process); the protocol is the seam for a
/// shared store when Gatehouse runs as several processes.
public protocol RateLimitStore: Sendable {
    /// Counts one hit on `key` in a fixed window of `window` seconds; returns the count so far
    /// in the window (this hit included) and when the window ends.
    func hit(_ key: String, window: TimeInterval, now: Date) -> (count: Int, resetAt: Date)
    /// Locks `key` until `until`.
    func lock(_ key: String, until: Date)
    /// When the lock on `key` ends, if it is locked now.
    func lockedUntil(_ key: String, now: Date) -> Date?
    /// Forgets the counter and lock of `key`.
    func reset(_ key: String)
}

public final class InMemoryRateLimits: RateLimitStore {
    struct Window {
        var count: Int
        var resetAt: Date
    }

    private let state = Mutex<(windows: [String: Window], locks: [String: Date], sweptAt: Date)>(
        ([:], [:], .distantPast)
    )

    public init() {}

    public func hit(_ key: String, window: TimeInterval, now: Date) -> (count: Int, resetAt: Date) {
        state.withLock { state in
            sweep(&state, now: now)
            var entry =
                state.windows[key].flatMap { $0.resetAt > now ? $0 : nil }
                ?? Window(count: 0, resetAt: now.addingTimeInterval(window))
            entry.count += 1
            state.windows[key] = entry
            return (entry.count, entry.resetAt)
        }
    }

    public func lock(_ key: String, until: Date) {
        state.withLock { $0.locks[key] = until }
    }

    public func lockedUntil(_ key: String, now: Date) -> Date? {
        state.withLock { state in state.locks[key].flatMap { $0 > now ? $0 : nil } }
    }

    public func reset(_ key: String) {
        state.withLock { state in
            state.windows[key] = nil
            state.locks[key] = nil
        }
    }

    /// Drops ended windows and locks, at most once a minute.
    private func sweep(_ state: inout (windows: [String: Window], locks: [String: Date], sweptAt: Date), now: Date) {
        guard now.timeIntervalSince(state.sweptAt) > 60 else { return }
        state.windows = state.windows.filter { $0.value.resetAt > now }
        state.locks = state.locks.filter { $0.value > now }
        state.sweptAt = now
    }
}
