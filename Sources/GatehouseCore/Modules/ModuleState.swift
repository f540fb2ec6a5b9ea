import Synchronization

/// State that must outlive a reload, kept for the modules by the host. A module instance lives
/// until the next reload; what it must keep longer (counters, locks) it asks for here under a
/// key of its own (its id), and gets the same object back after every reload.
public final class ModuleStatePool: Sendable {
    private let values = Mutex<[String: any Sendable]>([:])

    public init() {}

    /// The object kept under `key`, made by `make` the first time. Asking for a key with another
    /// type than the one first made is a programming error: the first one stays, and `make`
    /// builds a fresh object that is not kept.
    public func shared<T: Sendable>(_ key: String, make: () -> T) -> T {
        values.withLock { values in
            if let existing = values[key] {
                return existing as? T ?? make()
            }
            let made = make()
            values[key] = made
            return made
        }
    }
}
