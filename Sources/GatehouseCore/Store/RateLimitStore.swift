import Foundation

/// Counters and locks for rate limits: in memory for one process, or in the shared database
/// when several processes serve one (`GatehouseStore.sharedRateLimits`). Each decision is one
/// atomic step, so concurrent callers (in any process) never both take the last slot.
public protocol RateLimitStore: Sendable {
    /// Counts one hit on `key` in a fixed window of `window` seconds; returns the count so far
    /// in the window (this hit included) and when the window ends.
    func hit(_ key: String, window: TimeInterval, now: Date) async throws -> (count: Int, resetAt: Date)
    /// Takes one of the `limit` slots of `key`'s window, atomically: nil when it was taken,
    /// else (every slot taken, or `key` locked) when to try again.
    func reserve(_ key: String, limit: Int, window: TimeInterval, now: Date) async throws -> Date?
    /// Gives one slot taken by `reserve` back.
    func release(_ key: String, now: Date) async throws
    /// The count of `key`'s window now.
    func count(_ key: String, now: Date) async throws -> Int
    /// Locks `key` until `until`; false when it was locked already (someone else locked it).
    @discardableResult func lock(_ key: String, until: Date, now: Date) async throws -> Bool
    /// When the lock on `key` ends, if it is locked now.
    func lockedUntil(_ key: String, now: Date) async throws -> Date?
    /// Forgets the counter of `key`, in one step, unless `key` is locked at `now` (a lock set
    /// meanwhile by a check elsewhere is not lifted).
    func reset(_ key: String, unlessLockedAt now: Date) async throws
}
