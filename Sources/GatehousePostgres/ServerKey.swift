import Foundation
import GatehouseCore
import GatehouseStore
import Synchronization

extension PostgresStore: StoreStatistics {}

/// Why a process cannot use the server key it was given.
public enum ServerKeyError: Error, CustomStringConvertible, Equatable {
    /// The database was set up with a key, and this process has no key file.
    case missing(path: String)
    /// This process's key file is not the key the database was set up with.
    case mismatch(path: String)

    public var description: String {
        switch self {
        case .missing(let path):
            "the key file \(path) does not exist, but this database already has a server key: copy the key file "
                + "from the machine that first started on it (database.keyFile)"
        case .mismatch(let path):
            "the key file \(path) is not the key this database was set up with: every process on one database needs "
                + "the same key file (database.keyFile)"
        }
    }
}

extension PostgresStore {
    /// The name under which the database keeps a check of its server key: an HMAC under the
    /// key of a fixed text, which tells whether a key is the one, and nothing of the key.
    static let keyCheckSetting = "serverKeyCheck"

    /// Brings the schema up to date and loads the server key at `keyFile`, both under the
    /// migration lock. The first process on a database creates the key (if its file is
    /// missing) and records its check; every later one must bring the same key: a missing
    /// file is not replaced by a new key, and another key is refused, since either would
    /// leave what was sealed with the first unreadable.
    public func migrateAndLoadKey(keyFile: String) async throws -> SecretKey {
        let loaded = Mutex<SecretKey?>(nil)
        try await migrate { store in
            let recorded = try await store.setting(Self.keyCheckSetting)
            if recorded != nil, !FileManager.default.fileExists(atPath: keyFile) {
                throw ServerKeyError.missing(path: keyFile)
            }
            let key = try SecretKey.loadOrCreate(path: keyFile)
            let check = key.hash("gatehouse server key check")
            guard try await store.keepSetting(Self.keyCheckSetting, check) == check else {
                throw ServerKeyError.mismatch(path: keyFile)
            }
            loaded.withLock { $0 = key }
        }
        guard let key = loaded.withLock({ $0 }) else { throw ServerKeyError.missing(path: keyFile) }
        return key
    }
}
